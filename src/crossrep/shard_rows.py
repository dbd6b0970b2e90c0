"""Streaming access to the rows of one or more shards (memory stays at one batch)."""
from __future__ import annotations

import numpy as np

from . import representation_of
from .shards import open_shard, part_paths, read_strings


class ShardRows:
    """The rows of dataset ``name`` across several shards (e.g. a fold's parts, or the
    training folds' parts), in the order given, read in batches by index."""

    def __init__(self, paths, name: str):
        self.name = name
        self.files = [open_shard(p, name, "label", "track_id", "segment") for p in part_paths(paths)]
        sizes = [f[name].shape[0] for f in self.files]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)])
        self.labels = np.concatenate([f["label"][...] for f in self.files]).astype(np.int64)
        self.track_ids = np.concatenate([read_strings(f["track_id"]) for f in self.files])
        self.segments = np.concatenate([f["segment"][...] for f in self.files])
        self.row_shape = self.files[0][name].shape[1:]

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def read(self, indices) -> np.ndarray:
        """Rows at ``indices`` (any order) as one float32 array."""
        indices = np.asarray(indices)
        out = np.empty((len(indices), *self.row_shape), dtype=np.float32)
        shard_of = np.searchsorted(self.offsets, indices, side="right") - 1
        for s in np.unique(shard_of):
            where = np.flatnonzero(shard_of == s)
            local = indices[where] - self.offsets[s]
            order = np.argsort(local)  # h5py reads need increasing indices
            out[where[order]] = self.files[s][self.name][local[order]]
        return out

    def batches(self, indices, batch_size: int):
        for start in range(0, len(indices), batch_size):
            chunk = indices[start:start + batch_size]
            yield chunk, self.read(chunk)

    def close(self):
        for f in self.files:
            f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def input_dataset(kind: str) -> str:
    """Which shard dataset a model kind reads: spectrograms for 2D, audio for the waveform models."""
    return "spec" if representation_of(kind) else "audio"


def streaming_stats(rows: ShardRows, indices, batch_size: int, per_bin: bool):
    """Mean and std over ``indices`` rows: per frequency bin (axis 1) or one scalar, in float64."""
    total = total_sq = count = 0
    for _, x in rows.batches(np.sort(indices), batch_size):
        x = x.astype(np.float64)
        axes = (0, 2) if per_bin else None
        total = total + x.sum(axis=axes)
        total_sq = total_sq + (x * x).sum(axis=axes)
        count += x.size // (x.shape[1] if per_bin else 1)
    mean = total / count
    return mean, np.sqrt(np.maximum(total_sq / count - mean * mean, 0.0))
