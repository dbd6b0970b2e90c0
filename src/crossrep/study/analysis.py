"""The study's figures from its scores and per-clip qualities: per fold, over folds, at
matched true SNR, and where an attack first beats the noise control. Numbers only; the
tables, figures and page are rendered by ``study.report``.

Every figure is a mean over folds (± sample SD, ddof 1) of per-fold values; SNRs are the
median and IQR over the studied clips of all folds. Matched-SNR cells read each fold's
curve of (median true SNR, value) at the target SNR (``summary.at_snr``), then average the
folds that reach it; a cell no fold reaches says so.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..shards import read_csv_parts
from . import NOISE
from .summary import at_snr, quality_figures, read_scores, segment_figures

RATES = ("segments", "vote", "sum", "fooling_rate", "conditional", "agreement", "confidence")


def per_fold(scores: dict, quality: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """({source: {fold: score shard or its parts}}, {source: {fold: quality csv or its parts}}) ->
    (per-fold figures joined with each fold's clip SNRs, the raw per-clip quality table)."""
    frames = [segment_figures(*read_scores(paths), source, int(fold))
              for source, by_fold in scores.items() for fold, paths in by_fold.items()]
    clips = pd.concat([read_csv_parts(p) for by_fold in quality.values() for p in by_fold.values()],
                      ignore_index=True)
    figures = pd.concat(frames, ignore_index=True).merge(
        quality_figures(clips), on=["source", "path", "fold", "kind", "eps"], how="left")
    return figures, clips


def over_folds(figures: pd.DataFrame, clips: pd.DataFrame) -> pd.DataFrame:
    """One row per (source, path, kind, eps, target): each rate's mean and SD over folds, and
    the pooled clips' SNR median / IQR and ViSQOL."""
    keys = ["source", "path", "kind", "eps", "target"]
    grouped = figures.groupby(keys, sort=False)
    table = grouped[list(RATES)].mean().add_suffix("_mean").join(grouped[list(RATES)].std(ddof=1).add_suffix("_sd"))
    table = table.join(grouped["fold"].nunique().rename("folds")).reset_index()
    pooled = quality_figures(clips, by=("source", "path"))
    return table.merge(pooled, on=["source", "path", "kind", "eps"], how="left")


def matched(figures: pd.DataFrame, snr_targets) -> pd.DataFrame:
    """Per (source, path, kind, target, target SNR): segment accuracy and fooling rate read off
    each fold's curve (eps > 0) at that true SNR; mean, SD and how many folds reach it."""
    rows = []
    curves = figures[figures["eps"] > 0]
    for (source, path, kind, target), g in curves.groupby(["source", "path", "kind", "target"], sort=False):
        per_fold_values = {name: [] for name in ("segments", "fooling_rate")}
        for _, fold_curve in g.groupby("fold"):
            for name in per_fold_values:
                per_fold_values[name].append(at_snr(fold_curve["true_snr_db_median"], fold_curve[name], snr_targets))
        for i, snr in enumerate(snr_targets):
            row = dict(source=source, path=path, kind=kind, target=target, snr_db=float(snr))
            for name, values in per_fold_values.items():
                column = np.array([v[i] for v in values])
                reached = column[np.isfinite(column)]
                row[f"{name}_mean"] = float(reached.mean()) if len(reached) else float("nan")
                row[f"{name}_sd"] = float(reached.std(ddof=1)) if len(reached) > 1 else float("nan")
                row["folds_reached"], row["folds"] = len(reached), len(column)
            rows.append(row)
    return pd.DataFrame(rows)


def beats_noise(table: pd.DataFrame, margin: float = 10.0) -> pd.DataFrame:
    """Per (source, path, attack, target): the highest true SNR at which the attack's segment
    accuracy is at least ``margin`` points below the noise control's at the same SNR, walking
    the attack's sweep from its quietest budget up (mean accuracy over folds against the
    pooled median true SNR; the noise curve read there by ``summary.at_snr``, never
    extrapolated). With it: both accuracies and the attack's ViSQOL at that point. NaN SNR:
    the attack never beats the noise by the margin where the noise curve is defined."""
    rows = []
    curves = table[table["eps"] > 0]
    for (source, path, target), g in curves.groupby(["source", "path", "target"], sort=False):
        noise = g[g["kind"] == NOISE]
        for kind, attack in g[g["kind"] != NOISE].groupby("kind", sort=False):
            attack = attack.sort_values("eps")
            noise_acc = at_snr(noise["true_snr_db_median"], noise["segments_mean"], attack["true_snr_db_median"])
            gap = noise_acc - attack["segments_mean"].to_numpy()
            first = np.flatnonzero(gap >= margin)
            row = dict(source=source, path=path, kind=kind, target=target, margin=margin, snr_db=np.nan,
                       eps=np.nan, attack_accuracy=np.nan, noise_accuracy=np.nan, visqol=np.nan,
                       lowest_snr_db=float(attack["true_snr_db_median"].min()))
            if len(first):
                at = attack.iloc[first[0]]
                row.update(snr_db=float(at["true_snr_db_median"]), eps=float(at["eps"]),
                           attack_accuracy=float(at["segments_mean"]), noise_accuracy=float(noise_acc[first[0]]),
                           visqol=float(at["visqol_mean"]))
            rows.append(row)
    return pd.DataFrame(rows)


def metrics_tree(table: pd.DataFrame, matched_rows: pd.DataFrame, beats: pd.DataFrame) -> dict:
    """metrics.json's ``study``: per source/path, perturbation, eps: the pooled median true SNR
    and each target's accuracy and fooling rate (mean over folds); the matched-SNR cells; and
    where each attack first beats the noise control (``beats_noise_snr_db``: null if never)."""
    tree: dict = {}
    for row in table.itertuples(index=False):
        cell = tree.setdefault(f"{row.source}/{row.path}", {}).setdefault(row.kind, {}).setdefault(
            f"eps_{row.eps:g}", {"true_snr_db": row.true_snr_db_median})
        cell[row.target] = {"accuracy": row.segments_mean, "fooling_rate": row.fooling_rate_mean}
    for row in matched_rows.itertuples(index=False):
        tree.setdefault("matched_snr", {}).setdefault(f"{row.source}/{row.path}", {}).setdefault(
            row.kind, {}).setdefault(row.target, {})[f"snr_{row.snr_db:g}"] = row.fooling_rate_mean
    for row in beats.itertuples(index=False):
        tree.setdefault("beats_noise_snr_db", {}).setdefault(f"{row.source}/{row.path}", {}).setdefault(
            row.kind, {})[row.target] = row.snr_db
    return tree
