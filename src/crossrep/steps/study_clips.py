"""Rule ``study_clips``: the whole test clips of one fold that the transfer study perturbs."""
from __future__ import annotations

import numpy as np

from .. import dataset
from ..runtime import log
from ..shards import write_shard
from ..study import clips as study_clips


def run(*, manifest, root, out, fold: int, params: dict) -> None:
    """Write the studied clips of test fold ``fold`` (audio, label, track id) to ``out``.

    Reads: ``audio.sample_rate``, ``dataset.clip_seconds``, ``study.clips_per_genre``.
    """
    sample_rate = params["audio"]["sample_rate"]
    clip = int(round(params["dataset"]["clip_seconds"] * sample_rate))
    table = dataset.read_manifest(manifest)
    rows = study_clips.choose(table[(table["fold"] == fold) & (table["status"] != "skipped")],
                              params["study"]["clips_per_genre"])
    with write_shard(out, fold=fold, sample_rate=sample_rate) as shard:
        for row, samples in dataset.clip_audio(root, rows, sample_rate, clip):
            shard.append(audio=samples[None].astype(np.float32), label=np.array([row.label], np.int16),
                         track_id=[row.track_id])
    log.info("study fold %d: %d whole clips of %d genres", fold, len(rows), rows["label"].nunique())
