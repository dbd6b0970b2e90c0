"""The study's tables, figures and `dvc plots` series, rendered from ``study.analysis``;
its listening section is ``listening.study_section``."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..listening import SOURCE_NAME, TARGET_NAME, fmt, study_section
from ..report_files import STUDY_FIGURES
from ..reports import plt, save_figure, write_frame, write_table
from . import NOISE
from .analysis import beats_noise, matched, metrics_tree, over_folds, per_fold

# the authors' published adversarial WAVs (karlmiko/IJCNN2020's listening page), measured
# here: true SNR 2.6-9.5 dB, ViSQOL 1.7-3.9 (docs/paper.md); the paper's 1D CNN accuracy
AUTHORS_POINT = dict(true_snr_db=(2.6, 9.5), visqol=(1.7, 3.9), cnn1d_accuracy=28.0)


def beats_noise_table(rows: pd.DataFrame, tables_dir: Path) -> None:
    """Markdown + CSV of :func:`beats_noise`: one line per source -> target and attack."""
    lines = []
    for r in rows.itertuples(index=False):
        reached = np.isfinite(r.snr_db)
        lines.append({"Source": SOURCE_NAME[r.source, r.path], "Target": TARGET_NAME[r.target],
                      "Attack": r.kind.upper(),
                      "first true SNR (dB) beating noise": f"{r.snr_db:.1f} (eps {r.eps:g})" if reached
                      else f"never (sweep down to {r.lowest_snr_db:.1f} dB)",
                      "accuracy % attack / noise": f"{r.attack_accuracy:.0f} / {r.noise_accuracy:.0f}" if reached
                      else "—",
                      "ViSQOL there": fmt(r.visqol) if reached else "—"})
    margin = rows["margin"].iloc[0] if len(rows) else 10.0
    write_table(tables_dir, "study_beats_noise", lines, f"Margin: {margin:g} points of accuracy. Walking each attack's "
                "sweep from its quietest budget: the first point where the target's "
                "segment accuracy (mean over folds) is at least the margin below the noise control's, read on the "
                "noise curve at the same pooled median true SNR (vs the path's clean rebuild; linear in dB, no "
                "extrapolation). Diagonal rows (source = target) are white-box. ViSQOL: mean over the clips it "
                "was computed on (ceiling 4.73).")


def _cell(frame: pd.DataFrame, name: str) -> str:
    if frame.empty or not frame["folds_reached"].iloc[0]:
        return "not reached"
    row = frame.iloc[0]
    sd = "" if np.isnan(row[f"{name}_sd"]) else f" ± {row[f'{name}_sd']:.0f}"
    partial = "" if row["folds_reached"] == row["folds"] else f" ({row['folds_reached']}/{row['folds']} folds)"
    return f"{row[f'{name}_mean']:.0f}{sd}{partial}"


def matched_table(table: pd.DataFrame, snr_targets, attacks, tables_dir: Path) -> None:
    """Markdown + CSV: source -> target rows, one column per true SNR, 'attack / noise' cells."""
    rows = []
    for (source, path), g in table.groupby(["source", "path"], sort=False):
        for target in TARGET_NAME:
            for attack in attacks:
                row = {"Source": SOURCE_NAME[source, path], "Target": TARGET_NAME[target], "Attack": attack.upper()}
                for snr in snr_targets:
                    at = g[(g["target"] == target) & (g["snr_db"] == snr)]
                    attacked, noise = at[at["kind"] == attack], at[at["kind"] == NOISE]
                    row[f"{snr:g} dB: fooled % attack / noise"] = (
                        f"{_cell(attacked, 'fooling_rate')} / {_cell(noise, 'fooling_rate')}")
                    row[f"{snr:g} dB: accuracy % attack / noise"] = (
                        f"{_cell(attacked, 'segments')} / {_cell(noise, 'segments')}")
                rows.append(row)
    write_table(tables_dir, "study_matched", rows,
                "Fooling rate: share of the segments the target classified right on the path's clean rebuild that "
                "it gets wrong on the perturbed audio. True SNR against the clean rebuild of the same path, read "
                "linearly in dB between the two sweep points around it in each fold (no extrapolation), mean ± SD "
                "over the folds that reach it. Diagonal (source = target) rows are white-box after the round trip "
                "through audio. Noise: random signs with the budget of FGSM at the same SNR.")
    write_frame(table, tables_dir / "study_matched_long.csv")


def figure_accuracy(table: pd.DataFrame, path: Path, attacks) -> None:
    """Target accuracy against true SNR: a panel per target, a colour per source, dashed noise."""
    fig, axes = plt.subplots(1, len(TARGET_NAME), figsize=(5.2 * len(TARGET_NAME), 4.2), sharey=True)
    colours = dict(zip(SOURCE_NAME, ["C0", "C1", "C2", "C3"], strict=True))
    styles = {NOISE: "--", **{a: s for a, s in zip(attacks, ["-", "-.", ":"], strict=False)}}
    for ax, target in zip(axes, TARGET_NAME, strict=True):
        for (source, p, kind), g in table[table["target"] == target].groupby(["source", "path", "kind"], sort=False):
            g = g[g["eps"] > 0].sort_values("true_snr_db_median")
            ax.plot(g["true_snr_db_median"], g["segments_mean"], styles.get(kind, "-"), color=colours[source, p],
                    marker="o", ms=3, label=f"{SOURCE_NAME[source, p]}, {kind}")
        if target == "cnn1d":
            low, high = AUTHORS_POINT["true_snr_db"]
            ax.fill_betweenx([AUTHORS_POINT["cnn1d_accuracy"] - 2, AUTHORS_POINT["cnn1d_accuracy"] + 2], low, high,
                             color="k", alpha=0.25, label="paper: 28 % at the authors' files' true SNR")
        ax.set_title(f"target: {TARGET_NAME[target]}")
        ax.set_xlabel("true SNR vs clean rebuild (dB, median over clips)")
        ax.invert_xaxis()
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("segment accuracy (%), mean over folds")
    axes[-1].legend(fontsize=6, loc="lower left")
    save_figure(fig, path)


def figure_visqol(clips: pd.DataFrame, path: Path) -> None:
    """ViSQOL (MOS-LQO) against true SNR for every scored clip, the authors' files marked."""
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    scored = clips[np.isfinite(clips["visqol"])]
    for i, ((source, p), g) in enumerate(scored.groupby(["source", "path"], sort=False)):
        for kind, marker in ((NOISE, "x"),):
            noise = g[g["kind"] == kind]
            ax.scatter(noise["true_snr_db"], noise["visqol"], marker=marker, color=f"C{i}", s=18)
        attack = g[g["kind"] != NOISE]
        ax.scatter(attack["true_snr_db"], attack["visqol"], color=f"C{i}", s=14, label=SOURCE_NAME[source, p])
    (x0, x1), (y0, y1) = AUTHORS_POINT["true_snr_db"], AUTHORS_POINT["visqol"]
    ax.add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, color="k", alpha=0.2, label="authors' adversarial files"))
    ax.set_xlabel("true SNR vs clean rebuild (dB)")
    ax.set_ylabel("ViSQOL v3 audio MOS-LQO (ceiling 4.73)")
    ax.set_title("Audibility against loudness (x: noise control)")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    save_figure(fig, path)


def plot_series(table: pd.DataFrame, plots_dir: Path) -> None:
    """`dvc plots` series: per (source, path, perturbation), each target's segment accuracy
    (fraction, mean over folds) against the pooled median true SNR."""
    for (source, p, kind), g in table.groupby(["source", "path", "kind"], sort=False):
        wide = g.pivot_table(index=["eps", "true_snr_db_median"], columns="target", values="segments_mean")
        wide = (wide / 100).reset_index().rename(columns={"true_snr_db_median": "true_snr_db"})
        write_frame(wide, plots_dir / "study" / f"{source}-{p}-{kind}.csv")


def build(results: dict, out_dir, figures_dir, plots_dir, params: dict, classes, sample_rate: int) -> tuple[dict, str]:
    """Every study output from ``results`` ({"scores"|"quality"|"audio": {source: {fold: path}}});
    returns (the tree for metrics.json, the listening page's study section).
    ``params``: ``study.matched_snr_db``, ``study.listening_clips``, ``attack.methods``."""
    out_dir, figures_dir = Path(out_dir), Path(figures_dir)
    snr_targets, attacks = params["study"]["matched_snr_db"], params["attack"]["methods"]
    figures, clips = per_fold(results["scores"], results["quality"])
    table = over_folds(figures, clips)
    matched_rows = matched(figures, snr_targets)
    tables = out_dir / "tables"
    tables.mkdir(parents=True, exist_ok=True)
    write_frame(table, tables / "study_transfer.csv")
    matched_table(matched_rows, snr_targets, attacks, tables)
    beats = beats_noise(table)
    beats_noise_table(beats, tables)
    accuracy_png, visqol_png = (figures_dir / f"{name}.png" for name in STUDY_FIGURES)
    figure_accuracy(table, accuracy_png, attacks)
    figure_visqol(clips, visqol_png)
    plot_series(table, Path(plots_dir))
    section = study_section(results["audio"], results["scores"], clips, out_dir / "study_audio",
                        params["study"]["listening_clips"], sample_rate, classes)
    return metrics_tree(table, matched_rows, beats), section
