"""The study's tables, figures and `dvc plots` series, rendered from ``study.analysis``;
its listening section is ``listening.study_section``."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..listening import fmt, study_section
from ..report_files import STUDY_FIGURES
from ..reports import plt, save_figure, write_frame, write_table
from . import MODEL_NAME, NOISE, control_kind, models_of, source_labels, targets_in
from .analysis import accuracy_intervals, bounds, matched, metrics_tree, over_folds, per_fold, verdict

# The paper's Table VI by segments (the 1D CNN on the authors' rebuilt adversarial audio),
# each at the true SNR of the authors' published files of that attack (docs/paper.md)
PAPER_POINTS = {"fgsm": dict(accuracy=26.45, true_snr_db=(2.6, 6.3), visqol=(1.7, 3.8)),
                "bim": dict(accuracy=30.76, true_snr_db=(6.1, 9.5), visqol=(1.7, 3.9))}
CONTROL_NAME = {"noise": "random signs", "null": "spectrum-matched null", "init": "untrained source"}
INTERVAL_NOTE = ("Intervals: 95 %, percentile bootstrap over clips resampled within each fold, paired by clip "
                 "(attack and control on the same clips at the same eps); noise: the mean over its draws per clip. "
                 "McNemar: exact two-sided test on the clips' sum-rule outcomes (noise: the majority of its draws).")


def _interval(estimate, low, high) -> str:
    return "—" if not np.isfinite(estimate) else f"{estimate:+.1f} [{low:+.1f}, {high:+.1f}]"


def verdict_table(rows: pd.DataFrame, tables_dir: Path, labels: dict, held_out=()) -> None:
    """Markdown + CSV of ``analysis.verdict``: one line per direction, attack, eps and control;
    the held-out targets (``study.held_out``) after the others, marked."""
    rows = rows.assign(held_out=rows["target"].isin(list(held_out))).sort_values("held_out", kind="stable")
    lines = [{"Source": labels[r.source, r.path],
              "Target": MODEL_NAME[r.target] + (" (held out)" if r.held_out else ""), "Attack": r.method.upper(),
              "eps": f"{r.eps:g}", "Control": CONTROL_NAME[r.control],
              "true SNR dB attack / control": f"{fmt(r.attack_snr_db)} / {fmt(r.control_snr_db)}",
              "accuracy % attack / control": f"{r.attack_accuracy:.1f} / {r.control_accuracy:.1f}",
              "control − attack accuracy [95 % CI]": _interval(r.accuracy_gap, r.gap_low, r.gap_high),
              "attack − control fooling rate [95 % CI]": _interval(r.fooling_gap, r.fooling_low, r.fooling_high),
              "McNemar p (discordant)": f"{r.p_mcnemar:.3g} ({r.only_attack_wrong}/{r.only_control_wrong})",
              "beats": "yes" if r.beats else "no", "clips": r.clips,
              "ViSQOL (clips)": f"{fmt(r.visqol)} ({r.visqol_clips})"} for r in rows.itertuples(index=False)]
    margin = rows["margin"].iloc[0] if len(rows) else float("nan")
    write_table(tables_dir, "study_verdict", lines,
                f"beats: the interval of (control − attack accuracy) lies above the margin, {margin:g} points. "
                "Accuracy: segment accuracy of the target over the studied clips of all folds. True SNR: median "
                "over clips, against the same path's clean rebuild, of the 16-bit audio as shipped. Controls: "
                "random signs with FGSM's L∞ budget; the attack's own perturbation with random STFT phases (same "
                "true SNR and spectral envelope); the same attack crafted on an untrained model of the source's "
                "architecture. Rows whose target is one of the source's models are white-box after the round trip "
                "through audio; held-out targets are models no attack is crafted on, of architectures no source has. "
                f"{INTERVAL_NOTE} ViSQOL v3 (audio mode, ceiling 4.73): mean over the clips it was computed on.")
    write_frame(rows, tables_dir / "study_verdict_long.csv")


def bounds_table(rows: pd.DataFrame, tables_dir: Path, labels: dict) -> None:
    """Markdown + CSV of ``analysis.bounds``: per direction, attack and control, where the attack
    beats the control or the upper bound its sweep leaves."""
    lines = []
    for r in rows.itertuples(index=False):
        if np.isfinite(r.beats_snr_db):
            finding = (f"beats it from {r.beats_snr_db:.1f} dB (eps {r.beats_eps:g}): "
                       f"{_interval(r.gap, r.gap_low, r.gap_high)} points, ViSQOL {fmt(r.visqol)}")
        else:
            finding = f"≤ {r.upper_bound:.1f} points (95 %) at every budget down to {r.down_to_snr_db:.1f} dB"
        lines.append({"Source": labels[r.source, r.path], "Target": MODEL_NAME[r.target],
                      "Attack": r.method.upper(), "Control": CONTROL_NAME[r.control], "Verdict": finding})
    margin = rows["margin"].iloc[0] if len(rows) else float("nan")
    write_table(tables_dir, "study_bounds", lines,
                f"Walking each attack's sweep from its quietest budget: the first budget whose 95 % interval of "
                f"(control − attack accuracy) lies above {margin:g} points, or, where none does, the largest upper "
                f"end of that interval over the sweep: the accuracy drop the attack adds to its control is at most "
                f"that many points at every budget tested, down to the loudest budget's true SNR. {INTERVAL_NOTE}")


def _cell(frame: pd.DataFrame, name: str) -> str:
    if frame.empty or not frame[f"{name}_folds_reached"].iloc[0]:
        return "not reached"
    row = frame.iloc[0]
    sd = "" if np.isnan(row[f"{name}_sd"]) else f" ± {row[f'{name}_sd']:.0f}"
    reached = row[f"{name}_folds_reached"]
    partial = "" if reached == row["folds"] else f" ({reached}/{row['folds']} folds)"
    return f"{row[f'{name}_mean']:.0f}{sd}{partial}"


def matched_table(table: pd.DataFrame, snr_targets, attacks, tables_dir: Path, labels: dict) -> None:
    """Markdown + CSV: source -> target rows, one column per true SNR, 'attack / noise' cells
    ("not comparable" where one of the two curves does not reach that SNR)."""
    rows = []
    for (source, path), g in table.groupby(["source", "path"], sort=False):
        for target in targets_in(g["target"]):
            for attack in attacks:
                row = {"Source": labels[source, path], "Target": MODEL_NAME[target], "Attack": attack.upper()}
                for snr in snr_targets:
                    at = g[(g["target"] == target) & (g["snr_db"] == snr)]
                    attacked, noise = at[at["kind"] == attack], at[at["kind"] == NOISE]
                    for name, label in (("fooling_rate", "fooled"), ("segments", "accuracy")):
                        cells = (_cell(attacked, name), _cell(noise, name))
                        both = "not reached" not in cells or cells == ("not reached",) * 2
                        row[f"{snr:g} dB: {label} % attack / noise"] = (
                            f"{cells[0]} / {cells[1]}" if both else f"{cells[0]} / {cells[1]} (not comparable)")
                rows.append(row)
    write_table(tables_dir, "study_matched", rows,
                "Descriptive, beside the verdict table's paired intervals. Fooling rate: share of the segments the "
                "target classified right on the path's clean rebuild that it gets wrong on the perturbed audio. "
                "True SNR against the clean rebuild of the same path, read linearly in dB between the two sweep "
                "points around it in each fold (no extrapolation); mean ± SD over the folds that reach it (a "
                "spread over folds that share training data, not an interval). Noise: random signs with FGSM's "
                "budget. Not comparable: one of the two curves does not reach that SNR.")
    write_frame(table, tables_dir / "study_matched_long.csv")


def figure_accuracy(bands: pd.DataFrame, snr: pd.DataFrame, path: Path, attacks, labels: dict) -> None:
    """Target accuracy against true SNR with 95 % bands: a panel per target, a colour per
    source, a line style per perturbation (attack, its spectrum-matched null, noise); the
    paper's Table VI points at its files' true SNR."""
    data = bands.merge(snr, on=["source", "path", "kind", "eps"], how="left")
    kinds = {NOISE: ("noise (random signs)", "--")}
    styles = ["-", "-.", (0, (6, 1.5)), (0, (3, 1, 1, 1, 1, 1)), (0, (8, 2, 1, 2)), (0, (2, 3))]
    for attack, style in zip(attacks, styles, strict=False):  # as many styles as attack methods
        kinds[attack] = (attack.upper().replace("_", "-"), style)
        kinds[control_kind(attack, "null")] = (f"{attack.upper()} spectrum-matched null", (0, (1, 1.5)))
    targets = targets_in(data["target"])
    fig, axes = plt.subplots(1, len(targets), figsize=(5.5 * len(targets), 4.6), sharey=True, squeeze=False)
    axes = axes[0]
    colours = {key: f"C{i}" for i, key in enumerate(labels)}
    for ax, target in zip(axes, targets, strict=True):
        on_target = data[(data["target"] == target) & (data["eps"] > 0)]
        for (source, p, kind), g in on_target.groupby(["source", "path", "kind"], sort=False):
            if kind not in kinds:
                continue
            g = g.sort_values("true_snr_db_median")
            ax.plot(g["true_snr_db_median"], g["accuracy"], linestyle=kinds[kind][1], color=colours[source, p],
                    marker="o", ms=2.5, lw=1.2)
            ax.fill_between(g["true_snr_db_median"], g["accuracy_low"], g["accuracy_high"],
                            color=colours[source, p], alpha=0.08, lw=0)
        if target == "cnn1d":
            for method, point in PAPER_POINTS.items():
                low, high = point["true_snr_db"]
                ax.errorbar((low + high) / 2, point["accuracy"], xerr=(high - low) / 2, fmt="s", color="k", ms=4,
                            capsize=3)
                ax.annotate(f"paper {method.upper()}", ((low + high) / 2, point["accuracy"]), fontsize=7,
                            xytext=(4, -10), textcoords="offset points")
        ax.set_title(f"target: {MODEL_NAME[target]}")
        ax.set_xlabel("true SNR vs clean rebuild (dB, median over clips); louder →")
        ax.invert_xaxis()
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("segment accuracy (%) with 95 % interval")
    handles = [plt.Line2D([], [], color=c, lw=2, label=labels[k]) for k, c in colours.items()]
    handles += [plt.Line2D([], [], color="0.3", linestyle=s, label=name) for name, s in kinds.values()]
    fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=8, frameon=False, bbox_to_anchor=(0.5, -0.12))
    save_figure(fig, path)


def figure_visqol(clips: pd.DataFrame, path: Path, labels: dict) -> None:
    """ViSQOL (MOS-LQO) against true SNR for every scored clip, the authors' files marked."""
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    scored = clips[np.isfinite(clips["visqol"])]
    for i, ((source, p), g) in enumerate(scored.groupby(["source", "path"], sort=False)):
        ax.scatter(g["true_snr_db"], g["visqol"], color=f"C{i}", s=14, label=labels[source, p])
    for method, point in PAPER_POINTS.items():
        (x0, x1), (y0, y1) = point["true_snr_db"], point["visqol"]
        ax.add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, color="k", alpha=0.15,
                                   label=f"authors' {method.upper()} files"))
    ax.set_xlabel("true SNR vs clean rebuild (dB)")
    ax.set_ylabel("ViSQOL v3 audio MOS-LQO (ceiling 4.73)")
    ax.set_title("Audibility of the attacks against loudness")
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
    returns (the tree for metrics_details.json, the listening page's study section).
    ``params``: ``seed``, ``study`` (sources, matched_snr_db, listening_clips, margin,
    bootstrap_resamples), ``attack.methods``."""
    out_dir, figures_dir = Path(out_dir), Path(figures_dir)
    study, attacks, seed = params["study"], params["attack"]["methods"], params["seed"]
    labels = source_labels(study["sources"])
    figures, clips, outcomes = per_fold(results["scores"], results["quality"], models_of(study["sources"]))
    table = over_folds(figures, clips)
    tables = out_dir / "tables"
    tables.mkdir(parents=True, exist_ok=True)
    write_frame(table, tables / "study_transfer.csv")
    matched_table(matched(figures, study["matched_snr_db"]), study["matched_snr_db"], attacks, tables, labels)
    verdict_rows = verdict(outcomes, clips, attacks, margin=study["margin"], seed=seed,
                           resamples=study["bootstrap_resamples"])
    verdict_table(verdict_rows, tables, labels, study["held_out"])
    bound_rows = bounds(verdict_rows)
    bounds_table(bound_rows, tables, labels)
    accuracy_png, visqol_png = (figures_dir / f"{name}.png" for name in STUDY_FIGURES)
    bands = accuracy_intervals(outcomes, seed, study["bootstrap_resamples"])
    snr = table[["source", "path", "kind", "eps", "true_snr_db_median"]].drop_duplicates()
    figure_accuracy(bands, snr, accuracy_png, attacks, labels)
    figure_visqol(clips, visqol_png, labels)
    plot_series(table, Path(plots_dir))
    section = study_section(results["audio"], results["scores"], clips, out_dir / "study_audio",
                            study["listening_clips"], sample_rate, classes, labels)
    return metrics_tree(table, bound_rows), section
