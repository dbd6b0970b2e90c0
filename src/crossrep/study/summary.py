"""The study's per-clip outcomes and per-fold figures, from the score and quality tables of
every (source, fold).

Per (source, path, perturbation, eps, target, fold), over the scored segments of the
studied clips (labels: the clips' genres; "clean" = the same path's eps-0 rebuild), pooled
over the noise control's draws:
  accuracy        segment, majority-vote and sum-rule accuracy
  fooling_rate    share of the segments the target got right when clean that it now gets wrong
  conditional     P(target fooled | source model fooled), over the segments the target got
                  right when clean (so the target could be fooled at all)
  agreement       among segments fooling both, share where target and source predict the same genre
  confidence      mean top softmax of the target's fooled predictions
and over the clips: median / IQR of the true SNR (vs the path's clean rebuild), the true
SNR vs the original, the authors' level ratio, the log-spectral distance, ViSQOL, and the
samples the 16-bit file clipped.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .. import metrics
from ..shards import open_shard, part_paths, read_parts
from . import CLEAN

QUALITY = ("true_snr_db", "snr_vs_original_db", "level_ratio_db", "lsd_db")
# per-clip counts (clip_outcomes) and the ratios the figures are: name -> (numerator, denominator)
COUNTS = ("segments", "right", "clean_right", "fooled", "source_fooled", "both_fooled", "agree",
          "fooled_confidence", "vote_right", "sum_right", "clips")
RATIOS = {"segments": ("right", "segments"), "vote": ("vote_right", "clips"), "sum": ("sum_right", "clips"),
          "fooling_rate": ("fooled", "clean_right"), "conditional": ("both_fooled", "source_fooled"),
          "agreement": ("agree", "both_fooled")}


def read_scores(paths) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """(one row per scored segment: kind, eps, draw, path, track_id, segment, label;
    {target: softmax}) of one score shard or of a fold's parts (concatenated in part order)."""
    with open_shard(part_paths(paths)[0]) as h5:
        targets = [name for name in h5 if name.startswith("probs_")]
    columns = read_parts(paths, "kind", "eps", "draw", "path", "track_id", "segment", "label", *targets)
    rows = pd.DataFrame({name: columns[name] for name in ("kind", "eps", "draw", "path", "track_id", "segment")})
    rows["label"] = columns["label"].astype(int)
    return rows, {name[len("probs_"):]: columns[name] for name in targets}


def clip_outcomes(rows: pd.DataFrame, probs: dict, source: str, fold: int, source_models) -> pd.DataFrame:
    """One row per (path, kind, eps, draw, target, clip) of one source and fold (eps 0 listed
    under every perturbation), with the clip's counts over its scored segments:
    ``segments``; ``right``; ``clean_right`` (right on the clean rebuild); ``fooled`` (of
    those, wrong now); ``source_fooled`` (segments where the source model is fooled and the
    target was right when clean); ``both_fooled`` (of those, the target fooled too);
    ``agree`` (of those, target and source predict the same genre); ``fooled_confidence``
    (sum of the target's top softmax over its fooled segments); ``vote_right`` and
    ``sum_right`` (the clip's majority-vote / sum-rule genre is right: 0 or 1); ``clips`` (1).
    The source model's prediction: the mean softmax of ``source_models`` (an ensemble's)."""
    source_probs = np.mean([probs[m] for m in source_models], axis=0)
    out = []
    for path, on_path in rows.groupby("path", sort=False):
        for kind, eps, group, clean in _budgets(on_path):
            for draw, drawn in group.groupby("draw", sort=True):
                if not (np.array_equal(drawn["track_id"].to_numpy(), clean["track_id"].to_numpy())
                        and np.array_equal(drawn["segment"].to_numpy(), clean["segment"].to_numpy())):
                    raise ValueError(f"{source} fold {fold} {path}/{kind}/eps {eps}/draw {draw}: rows not "
                                     "aligned with the clean rows")
                out += _outcomes(drawn, clean, probs, source_probs,
                                 dict(source=source, fold=fold, path=path, kind=kind, eps=float(eps), draw=int(draw)))
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame()


def _outcomes(now_rows, clean_rows, probs, source_probs, keys) -> list[pd.DataFrame]:
    label = now_rows["label"].to_numpy()
    tracks = now_rows["track_id"].to_numpy()
    source_fooled = _fooled(source_probs, clean_rows.index, now_rows.index, label)
    source_pred = source_probs[now_rows.index].argmax(1)
    clip_label = pd.Series(label, index=tracks).groupby(level=0).first()
    out = []
    for target, p in probs.items():
        now = p[now_rows.index]
        pred = now.argmax(1)
        clean_right = p[clean_rows.index].argmax(1) == label
        fooled = clean_right & (pred != label)
        eligible = source_fooled & clean_right
        both = eligible & fooled
        per_segment = pd.DataFrame({
            "segments": 1, "right": pred == label, "clean_right": clean_right, "fooled": fooled,
            "source_fooled": eligible, "both_fooled": both, "agree": both & (pred == source_pred),
            "fooled_confidence": np.where(fooled, now.max(1), 0.0)}, index=tracks)
        counts = per_segment.groupby(level=0, sort=True).sum()
        decisions = metrics.track_decisions(now, tracks).loc[counts.index]
        truth = clip_label.loc[counts.index].to_numpy()
        counts["vote_right"] = (decisions["vote"].to_numpy() == truth).astype(int)
        counts["sum_right"] = (decisions["sum"].to_numpy() == truth).astype(int)
        counts["clips"] = 1
        out.append(counts.rename_axis("track_id").reset_index().assign(**keys, target=target))
    return out


def figures_of(outcomes: pd.DataFrame, by) -> pd.DataFrame:
    """The figures (percent) of :data:`RATIOS` and the mean confidence of fooled predictions,
    from the summed counts of ``outcomes`` per ``by`` (clips and noise draws pooled)."""
    sums = outcomes.groupby(list(by), sort=False)[list(COUNTS)].sum()
    table = pd.DataFrame(index=sums.index)
    for name, (numerator, denominator) in RATIOS.items():
        table[name] = 100 * sums[numerator] / sums[denominator].where(sums[denominator] > 0)
    table["confidence"] = sums["fooled_confidence"] / sums["fooled"].where(sums["fooled"] > 0)
    table["n_segments"], table["n_fooled"] = sums["segments"], sums["fooled"]
    return table.reset_index()


def segment_figures(rows: pd.DataFrame, probs: dict, source: str, fold: int, source_models) -> pd.DataFrame:
    """One row per (path, kind, eps, target) of one source and fold (eps 0 listed under every kind)."""
    return figures_of(clip_outcomes(rows, probs, source, fold, source_models),
                      ("source", "path", "kind", "eps", "target", "fold"))


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


def quality_figures(quality: pd.DataFrame, by=("source", "path", "fold")) -> pd.DataFrame:
    """Median / IQR over clips (and noise draws) of each (``by``..., kind, eps) of the quality
    table (eps 0 under every kind), ViSQOL's mean over the clips it was computed on, and the
    samples clipped in all. ``by`` without ``fold`` pools the folds' clips."""
    out = []
    for keys, on_path in quality.groupby(list(by), sort=False):
        for kind, eps, group, _ in _budgets(on_path):
            row = dict(zip(by, keys, strict=True), kind=kind, eps=float(eps), clips=len(group))
            for name in QUALITY:
                spread = metrics.median_iqr(group[name])
                row.update({f"{name}_median": spread["median"], f"{name}_q1": spread["q1"],
                            f"{name}_q3": spread["q3"]})
            visqol = group["visqol"].dropna()
            row.update(visqol_mean=float(visqol.mean()) if len(visqol) else float("nan"), visqol_n=len(visqol),
                       clipped_samples=int(group["clipped_samples"].sum()) if "clipped_samples" in group else 0)
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
