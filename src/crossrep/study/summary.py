"""The study's figures, from the score and quality tables of every (source, fold).

Per (source, path, perturbation, eps, target, fold), over the scored segments of the
studied clips (labels: the clips' genres; "clean" = the same path's eps-0 rebuild):
  accuracy        segment, majority-vote and sum-rule accuracy
  fooling_rate    share of the segments the target got right when clean that it now gets wrong
  conditional     P(target fooled | source model fooled), on the same segments
  agreement       among segments fooling both, share where target and source predict the same genre
  confidence      mean top softmax of the target's fooled predictions
and over the clips: median / IQR of the true SNR (vs the path's clean rebuild), the true
SNR vs the original, the authors' level ratio, the log-spectral distance, and ViSQOL.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .. import metrics
from ..shards import open_shard, part_paths, read_parts
from . import CLEAN, SOURCE_MODEL

QUALITY = ("true_snr_db", "snr_vs_original_db", "level_ratio_db", "lsd_db")


def read_scores(paths) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """(one row per scored segment: kind, eps, path, track_id, segment, label; {target: softmax})
    of one score shard or of a fold's parts (concatenated in part order)."""
    with open_shard(part_paths(paths)[0]) as h5:
        targets = [name for name in h5 if name.startswith("probs_")]
    columns = read_parts(paths, "kind", "eps", "path", "track_id", "segment", "label", *targets)
    rows = pd.DataFrame({name: columns[name] for name in ("kind", "eps", "path", "track_id", "segment")})
    rows["label"] = columns["label"].astype(int)
    return rows, {name[len("probs_"):]: columns[name] for name in targets}


def segment_figures(rows: pd.DataFrame, probs: dict, source: str, fold: int) -> pd.DataFrame:
    """One row per (path, kind, eps, target) of one source and fold (eps 0 listed under every kind)."""
    source_model = SOURCE_MODEL[source]
    out = []
    for path, on_path in rows.groupby("path", sort=False):
        for kind, eps, group, clean in _budgets(on_path):
            if not (np.array_equal(group["track_id"].to_numpy(), clean["track_id"].to_numpy())
                    and np.array_equal(group["segment"].to_numpy(), clean["segment"].to_numpy())):
                raise ValueError(f"{source} fold {fold} {path}/{kind}/eps {eps}: rows not aligned with the "
                                 "clean rows")
            label = group["label"].to_numpy()
            source_fooled = _fooled(probs[source_model], clean.index, group.index, label)
            source_pred = probs[source_model][group.index].argmax(1)
            for target, p in probs.items():
                now = p[group.index]
                fooled = _fooled(p, clean.index, group.index, label)
                clean_right = p[clean.index].argmax(1) == label
                both = fooled & source_fooled
                acc = metrics.accuracies(now, label, group["track_id"].to_numpy())
                out.append(dict(
                    source=source, path=path, kind=kind, eps=float(eps), target=target, fold=fold,
                    segments=100 * acc["segments"], vote=100 * acc["vote"], sum=100 * acc["sum"],
                    fooling_rate=_share(fooled.sum(), clean_right.sum()),
                    conditional=_share(both.sum(), source_fooled.sum()),
                    agreement=_share((now.argmax(1)[both] == source_pred[both]).sum(), both.sum()),
                    confidence=float(now.max(1)[fooled].mean()) if fooled.any() else float("nan"),
                    n_segments=len(group), n_fooled=int(fooled.sum())))
    return pd.DataFrame(out)


def _budgets(on_path: pd.DataFrame):
    """(kind, eps, rows, the clean rows) of one path: per perturbation, eps 0 (the shared
    clean rows) then each eps of its sweep."""
    clean = on_path[on_path["kind"] == CLEAN]
    for kind in [k for k in on_path["kind"].unique() if k != CLEAN]:
        yield kind, 0.0, clean, clean
        for eps, group in on_path[on_path["kind"] == kind].groupby("eps"):
            yield kind, float(eps), group, clean


def _fooled(probs, clean_index, index, label) -> np.ndarray:
    return (probs[clean_index].argmax(1) == label) & (probs[index].argmax(1) != label)


def _share(part, whole) -> float:
    return 100.0 * float(part) / float(whole) if whole else float("nan")


def quality_figures(quality: pd.DataFrame, by=("source", "path", "fold")) -> pd.DataFrame:
    """Median / IQR over clips of each (``by``..., kind, eps) of the quality table (eps 0 under
    every kind), and ViSQOL's mean over the clips it was computed on. ``by`` without
    ``fold`` pools the folds' clips."""
    out = []
    for keys, on_path in quality.groupby(list(by), sort=False):
        for kind, eps, group, _ in _budgets(on_path):
            row = dict(zip(by, keys, strict=True), kind=kind, eps=float(eps), clips=len(group))
            for name in QUALITY:
                spread = metrics.median_iqr(group[name])
                row.update({f"{name}_median": spread["median"], f"{name}_q1": spread["q1"],
                            f"{name}_q3": spread["q3"]})
            visqol = group["visqol"].dropna()
            row.update(visqol_mean=float(visqol.mean()) if len(visqol) else float("nan"), visqol_n=len(visqol))
            out.append(row)
    return pd.DataFrame(out)


def at_snr(snr_db, values, targets) -> np.ndarray:
    """``values`` read off the curve (snr_db, values) at each target SNR, linearly in dB between
    the two sweep points that bracket it; NaN where the sweep never reaches the target (no
    extrapolation) and where the curve's points are not finite."""
    snr_db, values = np.asarray(snr_db, dtype=float), np.asarray(values, dtype=float)
    ok = np.isfinite(snr_db) & np.isfinite(values)
    snr_db, values = snr_db[ok], values[ok]
    out = np.full(len(targets), np.nan)
    if len(snr_db) == 0:
        return out
    order = np.argsort(snr_db)
    snr_db, values = snr_db[order], values[order]
    for i, target in enumerate(targets):
        if snr_db[0] <= target <= snr_db[-1]:
            out[i] = np.interp(target, snr_db, values)
    return out
