"""The study's numbers from its per-clip outcomes and qualities: figures per fold and over
folds, at matched true SNR, and the verdict of every attack against each of its controls.
The tables, figures and page are rendered by ``study.report``.

Over folds: the mean of per-fold figures ± their sample SD (ddof 1), a spread over folds
that share training data, not an interval. Intervals come from the paired bootstrap over
clips (``study.stats``). SNRs are the median and IQR over the studied clips of all folds.
Matched-SNR cells read each fold's curve of (median true SNR, value) at the target SNR
(``summary.at_snr``, no extrapolation) and average the folds that reach it.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..shards import read_csv_parts, row_seeds
from . import CONTROLS, control_kind
from .stats import mcnemar_exact, paired_difference, ratio_interval
from .summary import COUNTS, at_snr, clip_outcomes, figures_of, quality_figures, read_scores

RATES = ("segments", "vote", "sum", "fooling_rate", "conditional", "agreement", "confidence")
CONDITION = ["source", "path", "kind", "eps"]


def per_fold(scores: dict, quality: dict, models: dict) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """({source: {fold: score shard or its parts}}, {source: {fold: quality csv or its parts}},
    {source: the models it attacks}) -> (per-fold figures joined with each fold's clip SNRs,
    the per-clip quality table, the per-clip outcomes of every target)."""
    outcomes = pd.concat([clip_outcomes(*read_scores(paths), source, int(fold), models[source])
                          for source, by_fold in scores.items() for fold, paths in by_fold.items()],
                         ignore_index=True)
    clips = pd.concat([read_csv_parts(p) for by_fold in quality.values() for p in by_fold.values()],
                      ignore_index=True)
    figures = figures_of(outcomes, ("source", "path", "kind", "eps", "target", "fold")).merge(
        quality_figures(clips), on=["source", "path", "fold", "kind", "eps"], how="left")
    return figures, clips, outcomes


def over_folds(figures: pd.DataFrame, clips: pd.DataFrame) -> pd.DataFrame:
    """One row per (source, path, kind, eps, target): each rate's mean and SD over folds, and
    the pooled clips' SNR median / IQR and ViSQOL."""
    keys = ["source", "path", "kind", "eps", "target"]
    grouped = figures.groupby(keys, sort=False)
    table = grouped[list(RATES)].mean().add_suffix("_mean").join(grouped[list(RATES)].std(ddof=1).add_suffix("_sd"))
    table = table.join(grouped["fold"].nunique().rename("folds")).reset_index()
    pooled = quality_figures(clips, by=("source", "path"))
    return table.merge(pooled, on=["source", "path", "kind", "eps"], how="left")


def accuracy_intervals(outcomes: pd.DataFrame, seed: int, resamples: int) -> pd.DataFrame:
    """Per (source, path, kind, eps, target): segment accuracy over all clips (noise draws
    pooled) with its bootstrap interval over clips stratified by fold: the figure's bands."""
    per_clip = outcomes.groupby(["source", "path", "kind", "eps", "target", "fold", "track_id"],
                                sort=False)[["right", "segments"]].sum().reset_index()
    rows = []
    for key, g in per_clip.groupby(["source", "path", "kind", "eps", "target"], sort=False):
        ci = ratio_interval(g["fold"], g["right"], g["segments"], resamples=resamples,
                            seed=row_seeds(seed, ["/".join(map(str, key))])[0])
        rows.append(dict(zip(["source", "path", "kind", "eps", "target"], key, strict=True), accuracy=ci.estimate,
                         accuracy_low=ci.low, accuracy_high=ci.high, clips=ci.clips))
    return pd.DataFrame(rows)


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
                row[f"{name}_folds_reached"] = len(reached)
            row["folds"] = len(g["fold"].unique())
            rows.append(row)
    return pd.DataFrame(rows)


def verdict(outcomes: pd.DataFrame, clips: pd.DataFrame, methods, *, margin: float, seed: int,
            resamples: int) -> pd.DataFrame:
    """Every attack against each control at the same eps, on the same clips (source, path,
    target, method, eps > 0, control), paired by clip:

    - ``accuracy_gap``: control − attack segment accuracy (points) with its 95 % bootstrap
      interval (``gap_low``, ``gap_high``; clips resampled within folds; noise's draws
      averaged per clip); ``beats``: the interval lies above ``margin``;
    - ``fooling_gap``: attack − control fooling rate (points) with its interval;
    - ``p_mcnemar``: exact McNemar test on the clips' sum-rule outcomes (noise: the majority
      of its draws); ``only_attack_wrong`` / ``only_control_wrong``: the discordant clips;
    - both sides' median true SNR (vs the path's clean rebuild) and the attack's ViSQOL.
    """
    per_clip = outcomes.groupby(CONDITION + ["target", "fold", "track_id"])[list(COUNTS)].mean()  # sorted index
    snr = clips.groupby(CONDITION)["true_snr_db"].median()
    visqol = clips.dropna(subset=["visqol"]).groupby(CONDITION)["visqol"].agg(["mean", "count"])
    rows = []
    for (source, path, target), g in per_clip.groupby(level=["source", "path", "target"], sort=False):
        g = g.droplevel(["source", "path", "target"])
        for method in methods:
            for eps in sorted(e for e in g.loc[method].index.get_level_values("eps").unique() if e > 0):
                attack = g.loc[(method, eps)]
                for control in CONTROLS:
                    kind = control_kind(method, control)
                    if (kind, eps) not in g.index.droplevel(["fold", "track_id"]):
                        continue
                    pair = attack.join(g.loc[(kind, eps)], suffixes=("_a", "_c"), how="inner")
                    folds = pair.index.get_level_values("fold")
                    key = f"{source}/{path}/{target}/{method}/{eps:g}/{control}"
                    bootstrap = dict(resamples=resamples, seed=row_seeds(seed, [key])[0])
                    gap = paired_difference(folds, pair["right_c"], pair["segments_c"], pair["right_a"],
                                            pair["segments_a"], **bootstrap)
                    fooling = paired_difference(folds, pair["fooled_a"], pair["clean_right_a"], pair["fooled_c"],
                                                pair["clean_right_c"], **bootstrap)
                    attack_right, control_right = pair["sum_right_a"] > 0.5, pair["sum_right_c"] > 0.5
                    only_attack_wrong = int((control_right & ~attack_right).sum())
                    only_control_wrong = int((attack_right & ~control_right).sum())
                    score = visqol.loc[(source, path, method, eps)] if (source, path, method, eps) in visqol.index \
                        else {"mean": float("nan"), "count": 0}
                    rows.append(dict(
                        source=source, path=path, target=target, method=method, eps=float(eps), control=control,
                        clips=gap.clips, attack_snr_db=float(snr.get((source, path, method, eps), np.nan)),
                        control_snr_db=float(snr.get((source, path, kind, eps), np.nan)),
                        attack_accuracy=100 * pair["right_a"].sum() / pair["segments_a"].sum(),
                        control_accuracy=100 * pair["right_c"].sum() / pair["segments_c"].sum(),
                        accuracy_gap=gap.estimate, gap_low=gap.low, gap_high=gap.high,
                        fooling_gap=fooling.estimate, fooling_low=fooling.low, fooling_high=fooling.high,
                        only_attack_wrong=only_attack_wrong, only_control_wrong=only_control_wrong,
                        p_mcnemar=mcnemar_exact(only_attack_wrong, only_control_wrong),
                        visqol=float(score["mean"]), visqol_clips=int(score["count"]), margin=margin,
                        beats=bool(gap.low > margin)))
    return pd.DataFrame(rows)


def bounds(verdict_rows: pd.DataFrame) -> pd.DataFrame:
    """Per (source, path, target, method, control): where the attack first beats the control
    walking its sweep from the quietest budget (``beats_snr_db``, the gap's interval there),
    or, where no budget does, the upper bound it leaves: the gap is at most ``upper_bound``
    points (the largest 95 % upper end over the sweep) at every budget down to
    ``down_to_snr_db`` true SNR."""
    rows = []
    for key, g in verdict_rows.groupby(["source", "path", "target", "method", "control"], sort=False):
        g = g.sort_values("attack_snr_db", ascending=False)       # quietest budget first
        row = dict(zip(["source", "path", "target", "method", "control"], key, strict=True),
                   margin=float(g["margin"].iloc[0]), down_to_snr_db=float(g["attack_snr_db"].min()),
                   upper_bound=float(g["gap_high"].max()), beats_snr_db=np.nan, beats_eps=np.nan,
                   gap=np.nan, gap_low=np.nan, gap_high=np.nan, visqol=np.nan)
        beaten = g[g["beats"]]
        if len(beaten):
            first = beaten.iloc[0]
            row.update(beats_snr_db=float(first["attack_snr_db"]), beats_eps=float(first["eps"]),
                       gap=float(first["accuracy_gap"]), gap_low=float(first["gap_low"]),
                       gap_high=float(first["gap_high"]), visqol=float(first["visqol"]))
        rows.append(row)
    return pd.DataFrame(rows)


def metrics_tree(table: pd.DataFrame, bound_rows: pd.DataFrame) -> dict:
    """metrics_details.json's ``study``: per source/path, perturbation, eps: the pooled median true SNR
    and each target's accuracy and fooling rate (mean over folds); and per source/path,
    target, attack and control the verdict (``bounds``): the true SNR where the attack first
    beats the control (null: at no budget) with the gap's interval there, and the upper
    bound on the gap over the whole sweep with the lowest true SNR the sweep reaches."""
    tree: dict = {}
    for row in table.itertuples(index=False):
        cell = tree.setdefault(f"{row.source}/{row.path}", {}).setdefault(row.kind, {}).setdefault(
            f"eps_{row.eps:g}", {"true_snr_db": row.true_snr_db_median})
        cell[row.target] = {"accuracy": row.segments_mean, "fooling_rate": row.fooling_rate_mean}
    for row in bound_rows.itertuples(index=False):
        tree.setdefault("verdict", {}).setdefault(f"{row.source}/{row.path}", {}).setdefault(
            row.target, {}).setdefault(row.method, {})[row.control] = dict(
            beats_snr_db=row.beats_snr_db, gap=row.gap, gap_low=row.gap_low, gap_high=row.gap_high,
            upper_bound=row.upper_bound, down_to_snr_db=row.down_to_snr_db)
    return tree

