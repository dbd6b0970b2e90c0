"""Rule ``segments``: one fold's clips cut into 5 s windows (75 % overlap)."""
from __future__ import annotations

import json

import numpy as np

from .. import audio, dataset
from ..runtime import log, progress
from ..shards import write_shard


def run(*, manifest, root, out, fold: int, part: int = 1, params: dict) -> None:
    """Write the segment shard ``out`` of part ``part`` of fold ``fold`` (the manifest's
    parts); silent segments are dropped and counted.
    """
    sample_rate, seg = params["audio"]["sample_rate"], params["segment"]
    table = dataset.read_manifest(manifest)
    rows = table[(table["fold"] == fold) & (table["part"] == part) & (table["status"] != "skipped")]
    window, overlap = seg["window"], seg["overlap"]
    clip = int(round(params["dataset"]["clip_seconds"] * sample_rate))
    dropped = 0
    attrs = dict(fold=fold, part=part, genres=json.dumps(list(params["dataset"]["genres"])), sample_rate=sample_rate,
                 window=window, hop=int(window * (1 - overlap)), tracks=len(rows))
    with write_shard(out, **attrs) as shard:
        clips = dataset.clip_audio(root, rows, sample_rate, clip)
        for row, samples in progress(clips, f"segments fold {fold}"):
            segs = audio.segments(samples, window, overlap)
            keep = audio.power(segs) > seg["silence_threshold"]
            dropped += int((~keep).sum())
            index = np.flatnonzero(keep)
            shard.append(audio=segs[keep], track_id=[row.track_id] * len(index),
                         segment=index.astype(np.int32), label=np.full(len(index), row.label, np.int16))
        shard.h5.attrs["dropped_silent"] = dropped
    log.info("fold %d part %d: %d segments from %d clips, %d silent segments dropped", fold, part, shard.rows,
             len(rows), dropped)
