"""One function per pipeline step: read inputs, call the library, write outputs atomically.

The Snakemake scripts in ``workflow/scripts`` only unpack ``snakemake.*`` and call these,
so every step can also be run and tested from Python.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
from tqdm import tqdm

from . import audio, dataset, synthetic
from .features import Spectrogram, SpectrogramConfig
from .shards import atomic_path, batches, open_shard, read_strings, write_shard

log = logging.getLogger("crossrep")


def _progress(desc):
    return lambda items: tqdm(items, desc=desc, leave=False, mininterval=2.0)


def synthesize(root, ds: dict, sample_rate: int, seed: int) -> None:
    """Generate the embedded synthetic dataset into ``root/<genre>/``."""
    paths = synthetic.generate_dataset(root, ds["genres"], ds["synthetic"]["tracks_per_genre"],
                                       ds["clip_seconds"], sample_rate, seed, _progress("synthesize"))
    log.info("wrote %d synthetic clips under %s", len(paths), root)


def manifest(root, out, ds: dict, sample_rate: int, segment: dict, seed: int) -> None:
    table = dataset.build_manifest(
        root, ds["genres"], ds["folds"], ds["clip_seconds"], ds["pad_tolerance_seconds"], sample_rate,
        segment["window"], segment["silence_threshold"], seed, _progress("manifest"))
    with atomic_path(out) as tmp:
        table.to_csv(tmp, index=False)
    used = table[table["status"] != "skipped"]
    log.info("manifest: %d clips from %d recordings used, %d files skipped; clips per fold %s",
             len(used), used["source"].nunique(), (table["status"] == "skipped").sum(),
             used.groupby("fold").size().to_dict())
    for row in table[table["status"] == "skipped"].itertuples():
        log.warning("skipped %s: %s", row.source, row.reason)


def segments(manifest_path, root, out, fold: int, genres, sample_rate: int, clip_seconds: float,
             segment: dict) -> None:
    """Fold ``fold``'s 5 s segments (75 % overlap); silent segments dropped and counted."""
    table = dataset.read_manifest(manifest_path)
    rows = table[(table["fold"] == fold) & (table["status"] != "skipped")]
    window, overlap = segment["window"], segment["overlap"]
    clip = int(round(clip_seconds * sample_rate))
    dropped = 0
    attrs = dict(fold=fold, genres=json.dumps(list(genres)), sample_rate=sample_rate, window=window,
                 hop=int(window * (1 - overlap)), tracks=len(rows))
    with write_shard(out, **attrs) as shard:
        for row, samples in tqdm(dataset.clip_audio(root, rows, sample_rate, clip), total=len(rows),
                                 desc=f"segments fold {fold}", leave=False, mininterval=2.0):
            segs = audio.segments(samples, window, overlap)
            keep = audio.power(segs) > segment["silence_threshold"]
            dropped += int((~keep).sum())
            index = np.flatnonzero(keep)
            shard.append(audio=segs[keep], track_id=[row.track_id] * len(index),
                         segment=index.astype(np.int32), label=np.full(len(index), row.label, np.int16))
        shard.h5.attrs["dropped_silent"] = dropped
    log.info("fold %d: %d segments from %d clips, %d silent segments dropped", fold, shard.rows,
             len(rows), dropped)


def spectrograms(segments_path, out, representation: str, config: SpectrogramConfig, batch_size: int) -> None:
    """dB spectrogram shard of one fold and representation, computed in batches."""
    transform = Spectrogram(config)
    with open_shard(segments_path, "audio", "track_id", "segment", "label") as src:
        n, window = src["audio"].shape
        attrs = dict(src.attrs, representation=representation,
                     config=json.dumps(config.__dict__), frames=config.n_frames(window))
        attrs.pop("complete", None), attrs.pop("rows", None)
        with write_shard(out, **attrs) as shard:
            for part in tqdm(list(batches(n, batch_size)), desc=f"{representation} fold {attrs['fold']}",
                             leave=False, mininterval=2.0):
                shard.append(spec=transform.db(representation, src["audio"][part]),
                             track_id=list(read_strings(src["track_id"], part)),
                             segment=src["segment"][part], label=src["label"][part])
    log.info("%s: %d %s spectrograms of %dx%d", out, n, representation,
             config.n_bins(representation), config.n_frames(window))
