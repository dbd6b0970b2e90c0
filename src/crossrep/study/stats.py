"""Paired inference on per-clip outcomes: a bootstrap over clips stratified by fold, and
McNemar's exact test.

Each studied clip is scored under an attack and under a control (the same clip, path and
eps), so the two are paired by clip. A statistic is a ratio of sums over clips (e.g.
segments right / segments scored), so a clip with more segments weighs more, as in the
pooled accuracy. The bootstrap resamples clips with replacement within each fold (folds
share training data, so a fold's clips are the unit that varies) and recomputes the
difference of the two ratios on the same resampled clips. scipy.stats.bootstrap has a
paired mode but no strata, hence this short resampler.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import binomtest

CONFIDENCE = 0.95
RESAMPLES = 2000


@dataclass(frozen=True)
class PairedDifference:
    """``estimate`` = ratio(a) - ratio(b) over all clips, in the ratio's units (e.g. points);
    ``low``/``high``: its percentile bootstrap interval; ``clips``: pairs used."""
    estimate: float
    low: float
    high: float
    clips: int


def paired_difference(folds, num_a, den_a, num_b, den_b, *, scale: float = 100.0, resamples: int = RESAMPLES,
                      confidence: float = CONFIDENCE, seed: int = 0) -> PairedDifference:
    """scale * (sum num_a / sum den_a - sum num_b / sum den_b) over paired clips, and its
    bootstrap interval resampling clips within each fold. Clips with a zero denominator on
    either side take no part (e.g. a fooling rate where no segment was right when clean)."""
    folds = np.asarray(folds)
    num_a, den_a, num_b, den_b = (np.asarray(x, dtype=float) for x in (num_a, den_a, num_b, den_b))
    used = (den_a > 0) & (den_b > 0)
    folds, num_a, den_a, num_b, den_b = (x[used] for x in (folds, num_a, den_a, num_b, den_b))
    if not used.any():
        return PairedDifference(float("nan"), float("nan"), float("nan"), 0)
    estimate = scale * (num_a.sum() / den_a.sum() - num_b.sum() / den_b.sum())
    rng = np.random.default_rng(seed)
    sums = np.zeros((resamples, 4))
    for fold in np.unique(folds):          # a fold's clips resampled among themselves
        rows = np.flatnonzero(folds == fold)
        draw = rows[rng.integers(0, len(rows), size=(resamples, len(rows)))]
        for j, column in enumerate((num_a, den_a, num_b, den_b)):
            sums[:, j] += column[draw].sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        replicates = scale * (sums[:, 0] / sums[:, 1] - sums[:, 2] / sums[:, 3])
    tail = (1 - confidence) / 2
    low, high = np.nanquantile(replicates, [tail, 1 - tail])
    return PairedDifference(float(estimate), float(low), float(high), int(used.sum()))


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value from the discordant pairs: ``only_a`` pairs where only
    A's outcome holds, ``only_b`` where only B's (the binomial test of only_a of only_a +
    only_b at 1/2). 1.0 without discordant pairs."""
    n = int(only_a) + int(only_b)
    return 1.0 if n == 0 else float(binomtest(int(only_a), n, 0.5).pvalue)
