"""What HDF5 compression gives each kind of shard of a finished run: stored size and write /
read time with h5py's built-in filters, as ratios against the same data stored uncompressed
(one row per chunk), measured in the same run. The shards use shuffle+gzip-1
(``shards.COMPRESSION``).

Per shard kind (segments, spectrograms, adversarial perturbations, study audio, study
scores), the largest array of the first shard found is copied into an in-memory HDF5 file
(``driver="core"``) once per filter: none (the baseline), lzf, gzip level 1, and each with
the byte shuffle (``shuffle=True``), chunked one row per chunk as ``shards.ShardWriter``
does. Exact: every filter is lossless, so compression changes no number.

    python bench/compression.py                  # the run in this checkout (after `make run`)
    python bench/compression.py --run /path/to/a/run --json
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import h5py
import numpy as np

KINDS = {"segments": "data/segments", "spectrograms (STFT)": "data/spectrograms/stft",
         "adversarial (STFT, BIM; float16 perturbation)": "data/adversarial/stft/bim",
         "study audio (mel, 16-bit)": "data/study/audio/mel", "study scores (mel)": "data/study/scores/mel"}
FILTERS = {"none": {}, "lzf": {"compression": "lzf"}, "gzip-1": {"compression": "gzip", "compression_opts": 1},
           "shuffle+lzf": {"compression": "lzf", "shuffle": True},
           "shuffle+gzip-1": {"compression": "gzip", "compression_opts": 1, "shuffle": True}}


def largest_array(run: Path, folder: str) -> tuple[str, np.ndarray] | None:
    """("<shard>:<array>", the array) of the first shard in ``run``/``folder``; None if there is none."""
    shards = sorted((run / folder).glob("*.h5"))
    if not shards:
        return None
    with h5py.File(shards[0], "r") as h5:
        name = max((n for n in h5 if h5[n].dtype.kind in "fiu"), key=lambda n: h5[n].size)
        return f"{folder}/{shards[0].name}:{name}", h5[name][...]


def stored(data: np.ndarray, options: dict) -> dict:
    """Bytes stored and seconds to write and to read back ``data`` with ``options``."""
    chunks = (1, *data.shape[1:]) if data[0].size >= 4096 else None
    with h5py.File("bench.h5", "w", driver="core", backing_store=False) as h5:
        start = time.perf_counter()
        ds = h5.create_dataset("x", data=data, chunks=chunks or True, **options)
        h5.flush()
        write = time.perf_counter() - start
        start = time.perf_counter()
        back = ds[...]
        read = time.perf_counter() - start
        assert np.array_equal(back, data)  # lossless
        return dict(bytes=ds.id.get_storage_size(), write_s=write, read_s=read)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", type=Path, default=Path("."), help="a finished run's checkout (default: this one)")
    ap.add_argument("--json", action="store_true", help="also print one JSON line of every figure")
    args = ap.parse_args(argv)
    results = {}
    print("| shard (array) | filter | size vs uncompressed | write time vs uncompressed | read time vs uncompressed |")
    print("| --- | --- | --- | --- | --- |")
    for kind, folder in KINDS.items():
        found = largest_array(args.run, folder)
        if found is None:
            continue
        where, data = found
        base = stored(data, {})
        results[kind] = {"array": where, "dtype": str(data.dtype), "MB": base["bytes"] / 1e6}
        for name, options in FILTERS.items():
            figures = stored(data, options) if options else base
            ratios = {k: figures[k] / base[k] for k in ("bytes", "write_s", "read_s")}
            results[kind][name] = ratios
            print(f"| {kind} ({data.dtype}, {base['bytes'] / 1e6:.0f} MB) | {name} | {ratios['bytes']:.2f} | "
                  f"{ratios['write_s']:.1f}x | {ratios['read_s']:.1f}x |")
    if args.json:
        print(json.dumps({"bench": "compression", "kinds": results}))


if __name__ == "__main__":
    main()
