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
    columns = [np.asarray(x, dtype=float) for x in (num_a, den_a, num_b, den_b)]
    used = (columns[1] > 0) & (columns[3] > 0)

    def difference(s):
        return scale * (s[..., 0] / s[..., 1] - s[..., 2] / s[..., 3])
    return _bootstrap(np.asarray(folds)[used], [c[used] for c in columns], difference, resamples, confidence, seed)


def ratio_interval(folds, num, den, *, scale: float = 100.0, resamples: int = RESAMPLES,
                   confidence: float = CONFIDENCE, seed: int = 0) -> PairedDifference:
    """scale * sum num / sum den over clips (e.g. one condition's accuracy) and its bootstrap
    interval, resampling clips within each fold as :func:`paired_difference` does."""
    columns = [np.asarray(x, dtype=float) for x in (num, den)]
    used = columns[1] > 0

    def ratio(s):
        return scale * s[..., 0] / s[..., 1]
    return _bootstrap(np.asarray(folds)[used], [c[used] for c in columns], ratio, resamples, confidence, seed)


def _bootstrap(folds, columns, statistic, resamples, confidence, seed) -> PairedDifference:
    """``statistic`` of the column sums, and its percentile interval over ``resamples``
    resamplings of the clips (rows) within each fold."""
    if not len(folds):
        return PairedDifference(float("nan"), float("nan"), float("nan"), 0)
    columns = np.stack(columns, axis=1)
    rng = np.random.default_rng(seed)
    sums = np.zeros((resamples, columns.shape[1]))
    for fold in np.unique(folds):          # a fold's clips resampled among themselves
        rows = np.flatnonzero(folds == fold)
        # how often each clip is drawn in each resample, then the weighted sums
        counts = rng.multinomial(len(rows), np.full(len(rows), 1 / len(rows)), size=resamples)
        sums += counts @ columns[rows]
    with np.errstate(invalid="ignore", divide="ignore"):
        replicates = statistic(sums)
    tail = (1 - confidence) / 2
    low, high = np.nanquantile(replicates, [tail, 1 - tail])
    return PairedDifference(float(statistic(columns.sum(axis=0))), float(low), float(high), len(folds))


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value from the discordant pairs: ``only_a`` pairs where only
    A's outcome holds, ``only_b`` where only B's (the binomial test of only_a of only_a +
    only_b at 1/2). 1.0 without discordant pairs."""
    n = int(only_a) + int(only_b)
    return 1.0 if n == 0 else float(binomtest(int(only_a), n, 0.5).pvalue)
