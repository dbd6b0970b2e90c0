"""The benches' one timer: the best of a few runs, after optional warm-up runs."""
from __future__ import annotations

import time


def best_seconds(fn, repeats: int = 3, warmup: int = 0) -> float:
    """Wall seconds of the fastest of ``repeats`` calls of ``fn()``, after ``warmup`` untimed
    calls (first calls allocate, build caches and pick kernels)."""
    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best
