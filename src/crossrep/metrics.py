"""Accuracy with track-level aggregation, fold summaries, and the SNR definitions.

pandas is imported by the accuracy functions only: the per-part jobs that need just the
SNR definitions (transfer, study_perturb) spare its import (~0.5 s of CPU per job).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd


def track_decisions(probs, track_ids) -> pd.DataFrame:
    """Per track: majority vote and sum-rule decisions over its segments.

    Vote ties (two classes with the same number of segment wins) go to the tied class
    with the larger summed probability; an exact tie of both goes to the lower class
    index. Sum-rule ties go to the lower class index.
    """
    import pandas as pd

    probs = np.asarray(probs, dtype=np.float64)
    frame = pd.DataFrame({"track_id": np.asarray(track_ids)})
    rows = []
    for track, index in frame.groupby("track_id", sort=True).indices.items():
        p = probs[index]
        votes = np.bincount(p.argmax(1), minlength=p.shape[1])
        summed = p.sum(0)
        tied = np.flatnonzero(votes == votes.max())
        vote = tied[np.argmax(summed[tied])]
        rows.append((track, int(vote), int(np.argmax(summed)), len(index)))
    return pd.DataFrame(rows, columns=["track_id", "vote", "sum", "segments"]).set_index("track_id")


def accuracies(probs, labels, track_ids) -> dict:
    """Segment, majority-vote and sum-rule accuracy (fractions)."""
    import pandas as pd

    probs, labels, track_ids = np.asarray(probs), np.asarray(labels), np.asarray(track_ids)
    decisions = track_decisions(probs, track_ids)
    track_label = pd.Series(labels, index=track_ids).groupby(level=0).first().loc[decisions.index]
    return dict(segments=float((probs.argmax(1) == labels).mean()),
                vote=float((decisions["vote"] == track_label).mean()),
                sum=float((decisions["sum"] == track_label).mean()))


def summarise(per_fold: dict) -> dict:
    """{fold: value} -> mean, sample SD (ddof=1) over folds, and the folds themselves."""
    values = np.array(list(per_fold.values()), dtype=np.float64)
    values = values[np.isfinite(values)]
    sd = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    return dict(mean=float(values.mean()) if len(values) else float("nan"), sd=sd,
                **{f"fold{k}": float(v) for k, v in per_fold.items()})


# -- SNR ---------------------------------------------------------------------------------
def _power(x):
    x = np.asarray(x, dtype=np.float64)
    return np.mean(x * x, axis=-1)


def snr_db(reference, other, floor: float = 1e-12) -> np.ndarray:
    """True SNR (paper eq. 3/4): 10 log10(P(reference) / P(other - reference)).

    NaN where the reference is silent (P <= floor); +inf where the two are identical.
    """
    reference = np.asarray(reference)
    return snr_db_of_powers(_power(reference), _power(np.asarray(other, np.float64) - reference), floor)


def snr_db_of_powers(p_reference, p_difference, floor: float = 1e-12) -> np.ndarray:
    """:func:`snr_db` from the mean powers of the reference and of the difference (what a
    stream of windows accumulates)."""
    p_reference, p_difference = np.asarray(p_reference, np.float64), np.asarray(p_difference, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = 10 * np.log10(p_reference / p_difference)
    return np.where(p_reference <= floor, np.nan, out)


def level_ratio_db(reference, other, floor: float = 1e-12) -> np.ndarray:
    """The authors' code's "SNR": 20 log10(rms(ref) / |rms(ref) - rms(other)|).

    A ratio of LEVELS, not of signal to perturbation power: on the authors' published
    files it gives the numbers they published, but it is not an SNR. NaN for a silent
    reference.
    """
    return level_ratio_db_of_powers(_power(reference), _power(other), floor)


def level_ratio_db_of_powers(p_reference, p_other, floor: float = 1e-12) -> np.ndarray:
    """:func:`level_ratio_db` from the two signals' mean powers."""
    rms_ref, rms_other = np.sqrt(np.asarray(p_reference, np.float64)), np.sqrt(np.asarray(p_other, np.float64))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = 20 * np.log10(rms_ref / np.abs(rms_ref - rms_other))
    return np.where(rms_ref ** 2 <= floor, np.nan, out)


REBUILD_SNRS = ("true_snr_db", "snr_vs_original_db", "level_ratio_db", "level_ratio_vs_original_db")


def rebuild_snrs(original, clean_rebuild, rebuilt) -> dict[str, np.ndarray]:
    """Per-row SNRs of rebuilt audio (``REBUILD_SNRS``): true SNR against the clean rebuild
    (paper eq. 3) and against the original audio; the authors' level ratio against the clean
    rebuild (their attack rows) and against the original audio (their Table VII "None" row)."""
    return dict(zip(REBUILD_SNRS, (snr_db(clean_rebuild, rebuilt), snr_db(original, rebuilt),
                                   level_ratio_db(clean_rebuild, rebuilt), level_ratio_db(original, rebuilt)),
                    strict=True))


def log_spectral_distance_db(reference, other, n_fft: int = 512, hop_length: int = 256,
                             floor: float = 1e-10) -> np.ndarray:
    """Log-spectral distance (dB) along the last axis: per STFT frame, the RMS over bins of
    10 log10(|R|^2 / |O|^2) (powers floored at ``floor``), averaged over frames. 0 for
    identical signals. Written out here (a few lines over librosa.stft): no field library
    ships it with these conventions."""
    import librosa

    def power(x):
        return np.maximum(np.abs(librosa.stft(np.asarray(x, np.float32), n_fft=n_fft, hop_length=hop_length)) ** 2,
                          floor)
    diff = 10 * np.log10(power(reference) / power(other))
    return np.sqrt((diff ** 2).mean(axis=-2)).mean(axis=-1)


def median_iqr(values) -> dict:
    """Median and inter-quartile range of the finite values (heavy-tailed figures such as SNR)."""
    values = np.asarray(values, dtype=np.float64)
    finite = values[np.isfinite(values)]
    if not len(finite):
        return dict(median=float("nan"), q1=float("nan"), q3=float("nan"), n=0)
    q1, median, q3 = np.percentile(finite, [25, 50, 75])
    return dict(median=float(median), q1=float(q1), q3=float(q3), n=int(len(finite)))


def snr_summary(values) -> dict:
    """Mean and SD (ddof=1) of the finite values; silent references and exact copies counted apart."""
    values = np.asarray(values, dtype=np.float64)
    finite = values[np.isfinite(values)]
    return dict(mean=float(finite.mean()) if len(finite) else float("nan"),
                sd=float(finite.std(ddof=1)) if len(finite) > 1 else 0.0,
                n=int(len(finite)), silent_reference=int(np.isnan(values).sum()),
                identical=int(np.isinf(values).sum()))
