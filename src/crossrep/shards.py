"""HDF5 shards: atomic creation, streamed appends, and checked reading.

Every shard is written under a temporary name in its final folder and renamed into
place only after it is closed, with ``attrs["complete"] = True`` set last. A reader
refuses a file without that mark, so an interrupted job can never leave a truncated
shard that looks finished. Shards hold only numbers and strings (no pickles).
"""
from __future__ import annotations

import csv
import glob
import math
import os
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import h5py
import numpy as np

STR = h5py.string_dtype("utf-8")


class ShardError(RuntimeError):
    """A shard is missing, incomplete or lacks an expected dataset."""


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success only."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # one job owns each output: temporaries of it left by a killed earlier attempt are stale
    for stale in path.parent.glob(f".{glob.escape(path.name)}.*.part"):
        stale.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 would make shared outputs unreadable
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


# lossless: byte shuffle, then gzip at its fastest level (bench/compression.py: audio
# stored 0.47 of its size, float32 spectrograms 0.79, an attack's float16 perturbation a
# few percent; lzf compresses less for the same speed)
COMPRESSION = {"compression": "gzip", "compression_opts": 1, "shuffle": True}


class ShardWriter:
    """Append rows to an HDF5 shard in batches; memory stays at one batch.

    Row arrays (first axis = row) become resizable, compressed (``COMPRESSION``) datasets,
    chunked one row per chunk for the large per-row arrays so that one segment reads alone.
    """

    def __init__(self, h5: h5py.File):
        self.h5 = h5
        self.rows = 0

    def append(self, **columns) -> None:
        n = None
        for name, values in columns.items():
            values = np.asarray(values) if not isinstance(values, (list, tuple)) else values
            length = len(values)
            if n is not None and length != n:
                raise ValueError(f"column {name!r} has {length} rows, expected {n}")
            n = length
            if name not in self.h5:
                self._create(name, values)
            ds = self.h5[name]
            ds.resize(self.rows + length, axis=0)
            if length:
                ds[self.rows:self.rows + length] = values
        self.rows += n or 0

    def _create(self, name, values):
        if isinstance(values, (list, tuple)) or np.asarray(values).dtype.kind in "OUS":
            self.h5.create_dataset(name, shape=(0,), maxshape=(None,), dtype=STR, chunks=(1024,))
            return
        values = np.asarray(values)
        row_shape = values.shape[1:]
        row_size = int(np.prod(row_shape)) if row_shape else 1
        chunks = (1, *row_shape) if row_size >= 4096 else (max(1, 65536 // row_size), *row_shape)
        self.h5.create_dataset(name, shape=(0, *row_shape), maxshape=(None, *row_shape),
                               dtype=values.dtype, chunks=chunks, **COMPRESSION)


@contextmanager
def write_shard(path, **attrs) -> Iterator[ShardWriter]:
    """Create ``path`` atomically; yields a :class:`ShardWriter`."""
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as h5:
            for key, value in attrs.items():
                h5.attrs[key] = value
            writer = ShardWriter(h5)
            yield writer
            h5.attrs["rows"] = writer.rows
            h5.attrs["complete"] = True


def open_shard(path, *required: str) -> h5py.File:
    """Open a finished shard for reading; clear error if it is not one."""
    path = Path(path)
    if not path.exists():
        raise ShardError(f"{path}: shard not found; build it with snakemake first")
    try:
        h5 = h5py.File(path, "r")
    except OSError as exc:
        raise ShardError(f"{path}: not a readable HDF5 shard ({exc}); delete it and rerun") from exc
    if not h5.attrs.get("complete", False):
        h5.close()
        raise ShardError(f"{path}: shard is incomplete (interrupted write); delete it and rerun")
    missing = [name for name in required if name not in h5]
    if missing:
        h5.close()
        raise ShardError(f"{path}: missing dataset(s) {missing}; it was built by another version, rerun")
    return h5


def part_paths(paths) -> list:
    """One shard path, or the parts of one fold (a list, in part order), as a list."""
    return [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)


def read_parts(paths, *names: str) -> dict[str, np.ndarray]:
    """Whole (small) datasets ``names`` of one shard or of a fold's parts, concatenated in
    part order (strings decoded): the fold's rows as one shard would list them."""
    columns = {name: [] for name in names}
    for path in part_paths(paths):
        with open_shard(path, *names) as h5:
            for name in names:
                ds = h5[name]
                columns[name].append(read_strings(ds) if ds.dtype.kind == "O" else ds[...])
    return {name: np.concatenate(parts) for name, parts in columns.items()}


def read_csv_parts(paths):
    """One per-part CSV (e.g. SNRs), or a fold's part CSVs concatenated in part order."""
    import pandas as pd

    return pd.concat([pd.read_csv(p) for p in part_paths(paths)], ignore_index=True)


def write_csv(path, columns: dict[str, list]) -> None:
    """Write equal-length ``columns`` as a CSV table, atomically, as pandas' ``to_csv`` would
    (NaN as an empty field); the csv module spares the per-part jobs pandas' import."""
    names = list(columns)
    lengths = {len(columns[name]) for name in names}
    if len(lengths) > 1:
        raise ValueError(f"{path}: columns of unequal length {sorted(lengths)}")
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(names)
        for row in zip(*(columns[name] for name in names), strict=True):
            writer.writerow("" if isinstance(v, (float, np.floating)) and math.isnan(v) else v for v in row)


def read_strings(ds, selection=slice(None)) -> np.ndarray:
    return np.asarray(ds.asstr()[selection], dtype=object)


def read_spectrograms(h5: h5py.File, rows, clean: h5py.File | None = None) -> np.ndarray:
    """Rows ``rows`` of a spectrogram shard, or of an adversarial shard: the same rows of its
    clean spectrogram shard ``clean`` plus its float16 perturbation (exactly the x_adv its
    attack scored: ``attacks.attack_batch``)."""
    if "spec" in h5:
        return h5["spec"][rows]
    if "perturbation" not in h5 or clean is None:
        raise ShardError(f"{h5.filename}: an adversarial shard holds a perturbation; read it with the clean "
                         "spectrogram shard of the same rows (shards.read_spectrograms)")
    return clean["spec"][rows] + h5["perturbation"][rows].astype(np.float32)


def row_keys(track_ids, segments) -> list[str]:
    """Each row's identity, "track#segment": what per-row seeds derive from (``attacks.row_seeds``)."""
    return [f"{track}#{int(segment)}" for track, segment in zip(track_ids, segments, strict=True)]


def row_seeds(seed: int, keys) -> list[int]:
    """One seed per row from the run's ``seed`` and the row's identity (``row_keys``): what
    PGD's start, the noise control and Griffin-Lim's initial phase draw from."""
    return [zlib.crc32(f"{seed}/{key}".encode()) for key in keys]


def batches(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


def assert_aligned(a: h5py.File, b: h5py.File, names=("track_id", "segment")) -> None:
    """Two shards must list the same segments in the same order (they are zipped row by row)."""
    for name in names:
        if not np.array_equal(a[name][...], b[name][...]):
            raise ShardError(f"{a.filename} and {b.filename} list different segments ({name}); rebuild them")
