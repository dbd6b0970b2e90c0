"""The study's tables, figures, metrics and `dvc plots` series.

Every figure is a mean over folds (± sample SD, ddof 1) of per-fold values; SNRs are the
median and IQR over the studied clips of all folds. Matched-SNR cells read each fold's
curve of (median true SNR, value) at the target SNR (``summary.at_snr``), then average the
folds that reach it; a cell no fold reaches says so.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..audio import write_wav
from ..listening import safe_name
from ..reports import _save, _write_csv, plt, write_table
from ..shards import open_shard, part_paths, read_csv_parts, read_strings
from . import CLEAN, NOISE
from .summary import at_snr, quality_figures, read_scores, segment_figures

TARGET_NAME = {"cnn2d_stft": "STFT 2D CNN", "cnn2d_mel": "mel 2D CNN", "cnn1d": "1D CNN"}
SOURCE_NAME = {("stft", "clean_phase"): "STFT 2D CNN", ("mel", "oracle_phase"): "mel 2D CNN (oracle phase)",
               ("mel", "griffin_lim"): "mel 2D CNN (Griffin-Lim)", ("cnn1d", "waveform"): "1D CNN (waveform)"}
RATES = ("segments", "vote", "sum", "fooling_rate", "conditional", "agreement", "confidence")
# DESIGN.md, "What the authors' files measure": their published adversarial WAVs
AUTHORS_POINT = dict(true_snr_db=(2.6, 9.5), visqol=(1.7, 3.9), cnn1d_accuracy=28.0)


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


def beats_noise_table(rows: pd.DataFrame, stem: Path) -> None:
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
                      "ViSQOL there": _fmt(r.visqol) if reached else "—"})
    margin = rows["margin"].iloc[0] if len(rows) else 10.0
    write_table(stem, f"Where the attack first beats noise of the same loudness by {margin:g} points of accuracy",
                lines, "Walking each attack's sweep from its quietest budget: the first point where the target's "
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


def matched_table(table: pd.DataFrame, snr_targets, attacks, stem: Path) -> None:
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
    write_table(stem, "Transfer at matched true SNR: fooling rate and segment accuracy, attack / noise control", rows,
                "Fooling rate: share of the segments the target classified right on the path's clean rebuild that "
                "it gets wrong on the perturbed audio. True SNR against the clean rebuild of the same path, read "
                "linearly in dB between the two sweep points around it in each fold (no extrapolation), mean ± SD "
                "over the folds that reach it. Diagonal (source = target) rows are white-box after the round trip "
                "through audio. Noise: random signs with the budget of FGSM at the same SNR.")
    _write_csv(table, stem.with_name(stem.name + "_long.csv"))


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
    _save(fig, path)


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
    _save(fig, path)


def plot_series(table: pd.DataFrame, plots_dir: Path) -> None:
    """`dvc plots` series: per (source, path, perturbation), each target's segment accuracy
    (fraction, mean over folds) against the pooled median true SNR."""
    for (source, p, kind), g in table.groupby(["source", "path", "kind"], sort=False):
        wide = g.pivot_table(index=["eps", "true_snr_db_median"], columns="target", values="segments_mean")
        wide = (wide / 100).reset_index().rename(columns={"true_snr_db_median": "true_snr_db"})
        _write_csv(wide, plots_dir / "study" / f"{source}-{p}-{kind}.csv")


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


def listening(audio: dict, scores: dict, clips: pd.DataFrame, out_dir, n_clips: int, sample_rate: int,
              classes) -> str:
    """16-bit WAVs of the first ``n_clips`` studied clips of the first fold at every budget of
    every source and path, and the HTML section listing them with each target's sum-rule
    genre, the true SNR and ViSQOL. Returns the section."""
    out_dir = Path(out_dir)
    rows_html = []
    for source, by_fold in audio.items():
        fold = min(by_fold)
        segments, probs = read_scores(scores[source][fold])
        remaining = n_clips
        for part in part_paths(by_fold[fold]):
            with open_shard(part, "audio", "kind", "eps", "path", "track_id") as h5:
                tracks, kinds, paths = (read_strings(h5[name]) for name in ("track_id", "kind", "path"))
                eps = h5["eps"][...]
                chosen = list(dict.fromkeys(tracks))[:remaining]
                remaining -= len(chosen)
                for row in np.flatnonzero(np.isin(tracks, chosen)):
                    key = dict(track_id=tracks[row], kind=kinds[row], eps=float(eps[row]), path=paths[row])
                    stem = f"{safe_name(key['track_id'])}_{key['path']}_{key['kind']}_eps{key['eps']:g}"
                    name = f"{safe_name(source)}/{stem}.wav"
                    write_wav(out_dir / name, h5["audio"][row], sample_rate)
                    on_clip = np.flatnonzero((segments[list(key)] == pd.Series(key)).all(axis=1).to_numpy())
                    genres = {t: classes[int(p[on_clip].sum(0).argmax())] for t, p in probs.items()}
                    quality = clips[(clips["source"] == source) & (clips["fold"] == fold)
                                    & (clips[list(key)] == pd.Series(key)).all(axis=1)]
                    q = quality.iloc[0] if len(quality) else {}
                    cells = [SOURCE_NAME[source, key["path"]], key["track_id"], "clean rebuild" if key["kind"] == CLEAN
                             else key["kind"], f"{key['eps']:g}", *(genres[t] for t in TARGET_NAME),
                             _fmt(q.get("true_snr_db")), _fmt(q.get("visqol"))]
                    rows_html.append("<tr>" + "".join(f"<td>{c}</td>" for c in map(_escape, cells))
                                     + f'<td><audio controls preload="none" src="{_escape(out_dir.name + "/" + name)}">'
                                     "</audio></td></tr>")
    head = "".join(f"<th>{h}</th>" for h in ("source (path)", "clip", "perturbation", "eps", "STFT 2D CNN",
                                             "mel 2D CNN", "1D CNN", "true SNR (dB)", "ViSQOL", "audio"))
    return ("<h2>Transfer study: the budgets, heard</h2><p class=\"note\">Whole clips of the first fold at every "
            "budget of every source (eps in dB for the 2D CNNs, x the clip's RMS for the 1D CNN); each model's "
            "sum-rule genre on the re-segmented clip; true SNR against the same path's clean rebuild; "
            f"ViSQOL v3 (audio mode, ceiling 4.73) where computed.</p><table><thead><tr>{head}</tr></thead><tbody>"
            + "".join(rows_html) + "</tbody></table>")


def _fmt(value) -> str:
    return "—" if value is None or not np.isfinite(value) else f"{value:.2f}"


def _escape(value) -> str:
    import html

    return html.escape(str(value))


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
    _write_csv(table, tables / "study_transfer.csv")
    matched_table(matched_rows, snr_targets, attacks, tables / "study_matched")
    beats = beats_noise(table)
    beats_noise_table(beats, tables / "study_beats_noise")
    figure_accuracy(table, figures_dir / "study_accuracy_vs_snr.png", attacks)
    figure_visqol(clips, figures_dir / "study_visqol_vs_snr.png")
    plot_series(table, Path(plots_dir))
    section = listening(results["audio"], results["scores"], clips, out_dir / "study_audio",
                        params["study"]["listening_clips"], sample_rate, classes)
    return metrics_tree(table, matched_rows, beats), section
