"""Whole clips for the study: the subset studied, and windows that tile a clip.

A clip is cut into non-overlapping model-sized windows (the last zero-padded) that are
perturbed and rebuilt one by one and put back end to end: every sample of the shipped
clip comes from exactly one attacked window. Overlap-add of the overlapping segments
would average each sample over up to four independently crafted perturbations, partly
cancelling them, so the file would carry a weaker attack than any window was given.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from ..audio import segment_starts

if TYPE_CHECKING:  # the functions take the manifest's tables; study_score needs only the batch size
    import pandas as pd

SCORE_BATCH_CLIPS = 8  # clips per batch of study_score


def tile(clip: np.ndarray, window: int) -> np.ndarray:
    """(n_windows, window): ``clip`` cut end to end, the last window zero-padded."""
    n = -(-len(clip) // window)
    return np.pad(clip, (0, n * window - len(clip))).reshape(n, window)


def untile(windows: np.ndarray, length: int) -> np.ndarray:
    """The clip back from its windows (padding dropped)."""
    return np.asarray(windows).reshape(-1)[:length]


def part_clips(clip: int, window: int, overlap: float, max_segments: int | None, attack_batch: int) -> int | None:
    """How many of a fold's studied clips (in :func:`choose` order) one study part holds:
    at most ``max_segments`` segments' worth (None: no limit, one part), rounded down to a
    multiple of both study_perturb's batch of clips (``attack.batch_size`` // windows per
    clip) and study_score's, so a split leaves every batch as it was: batched FFTs and
    matrix products round by batch, and BIM's sign() would amplify that into other attacks."""
    if max_segments is None:
        return None
    step = math.lcm(max(1, attack_batch // -(-clip // window)), SCORE_BATCH_CLIPS)
    per_clip = max(len(segment_starts(clip, window, overlap)), 1)
    return max(step, max_segments // per_clip // step * step)


def clips_per_part(params: dict) -> int | None:
    """:func:`part_clips` for a params.yaml tree (``audio.sample_rate``, ``dataset.clip_seconds``,
    ``segment``, ``shards.max_segments``, ``attack.batch_size``)."""
    clip = int(round(params["dataset"]["clip_seconds"] * params["audio"]["sample_rate"]))
    seg = params["segment"]
    return part_clips(clip, seg["window"], seg["overlap"], params["shards"]["max_segments"],
                      params["attack"]["batch_size"])


def study_parts(manifest: pd.DataFrame, per_genre: int | None, clips_per_part: int | None) -> dict[int, list[int]]:
    """{fold: its study parts (1, 2, ...)}: the fold's studied clips cut into runs of
    ``clips_per_part`` (:func:`part_clips`)."""
    used = manifest[manifest["status"] != "skipped"]
    counts = {int(fold): len(choose(rows, per_genre)) for fold, rows in used.groupby("fold")}
    return {fold: list(range(1, 1 + (max(1, -(-n // clips_per_part)) if clips_per_part else 1)))
            for fold, n in counts.items()}


def study_part(chosen: pd.DataFrame, part: int, clips_per_part: int | None) -> pd.DataFrame:
    """The rows of study part ``part`` (1, 2, ...) of a fold's chosen clips."""
    if clips_per_part is None:
        return chosen
    return chosen.iloc[(part - 1) * clips_per_part:part * clips_per_part]


def choose(rows: pd.DataFrame, per_genre: int | None) -> pd.DataFrame:
    """The clips studied: the first ``per_genre`` clips of each genre by recording and offset
    (all if None), in that order (a recording's clips consecutive, as streaming decodes them)."""
    order = ["label", "source", "offset"]
    rows = rows.sort_values(order, kind="stable")
    if per_genre is not None:
        rows = rows.groupby("label", sort=True).head(per_genre)
    return rows.reset_index(drop=True)


def spread_over_genres(chosen: pd.DataFrame, n: int) -> np.ndarray:
    """A mask of ``n`` of the chosen clips taken genre by genre in turn (each genre's first
    clip, then each genre's second, ...), so a subset (ViSQOL's) covers every genre."""
    rank = chosen.groupby("label", sort=False).cumcount().to_numpy()
    order = np.lexsort((chosen["label"].to_numpy(), rank))
    mask = np.zeros(len(chosen), bool)
    mask[order[:n]] = True
    return mask
