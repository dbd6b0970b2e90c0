"""Whole clips for the study: the subset studied, and windows that tile a clip.

A clip is cut into non-overlapping model-sized windows (the last zero-padded) that are
perturbed and rebuilt one by one and put back end to end: every sample of the shipped
clip comes from exactly one attacked window. Overlap-add of the overlapping segments
would average each sample over up to four independently crafted perturbations, partly
cancelling them, so the file would carry a weaker attack than any window was given.
"""
from __future__ import annotations

import numpy as np
import pandas as pd


def tile(clip: np.ndarray, window: int) -> np.ndarray:
    """(n_windows, window): ``clip`` cut end to end, the last window zero-padded."""
    n = -(-len(clip) // window)
    return np.pad(clip, (0, n * window - len(clip))).reshape(n, window)


def untile(windows: np.ndarray, length: int) -> np.ndarray:
    """The clip back from its windows (padding dropped)."""
    return np.asarray(windows).reshape(-1)[:length]


def studied_parts(manifest: pd.DataFrame, per_genre: int | None) -> dict[int, list[int]]:
    """{fold: the shard parts holding at least one of the fold's studied clips}: the study
    runs one job per such part (a part without a studied clip has no study job)."""
    used = manifest[manifest["status"] != "skipped"]
    return {int(fold): sorted(int(p) for p in choose(rows, per_genre)["part"].unique())
            for fold, rows in used.groupby("fold")}


def choose(rows: pd.DataFrame, per_genre: int | None) -> pd.DataFrame:
    """The clips studied: the first ``per_genre`` clips of each genre by recording and offset
    (all if None), in that order (a recording's clips consecutive, as streaming decodes them)."""
    order = ["label", "source", "offset"]
    rows = rows.sort_values(order, kind="stable")
    if per_genre is not None:
        rows = rows.groupby("label", sort=True).head(per_genre)
    return rows.reset_index(drop=True)
