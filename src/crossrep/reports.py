"""Collect per-fold results into the metrics, the paper's Tables III-VII, and figures.

Two kinds of metrics files, both git-versioned: ``metrics_details.json``, every number of
the tables and the study (nested, stable keys, no lists: ``fold1``, ``fold2`` …), which the
report and the page read; and ``headline/``, the DVC metrics: ~65 figures, one small file
per row of ``dvc metrics show`` with the same few columns, so that it, ``dvc metrics diff``
and ``dvc exp show`` fit a terminal.
"""
from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from . import metrics  # noqa: E402
from .report_files import TABLE
from .shards import atomic_path, open_shard, part_paths, read_csv_parts, read_parts, read_spectrograms, read_strings  # noqa: E402

AGG = ("segments", "vote", "sum")
AGG_HEAD = {"segments": "Segments", "vote": "MV Aggregation", "sum": "SR Aggregation"}
REP_NAME = {"stft": "STFT", "mel": "MF"}
SNR_KINDS = {"true_snr_db": "true SNR vs clean rebuild (eq. 3)",
             "snr_vs_original_db": "true SNR vs original audio",
             "level_ratio_db": "authors' level ratio vs clean rebuild (not an SNR)",
             "level_ratio_vs_original_db": "authors' level ratio vs original audio (their None row)"}
VS_CLEAN_REBUILD = ("true_snr_db", "level_ratio_db")  # identical signals in the None row: infinite


def shard_accuracy(paths) -> dict:
    """Accuracies of one prediction shard or of a fold's parts taken together."""
    columns = read_parts(paths, "probs", "label", "track_id")
    return metrics.accuracies(columns["probs"], columns["label"], columns["track_id"])


def fold_summary(paths_by_fold: dict) -> dict:
    """{fold: prediction shard or its parts} -> {segments|vote|sum: {mean, sd, fold1..}} in percent."""
    per_fold = {fold: shard_accuracy(path) for fold, path in paths_by_fold.items()}
    return {agg: metrics.summarise({f: 100 * acc[agg] for f, acc in per_fold.items()}) for agg in AGG}


def snr_summary(csv_by_fold: dict) -> dict:
    frame = pd.concat([read_csv_parts(p).assign(fold=f) for f, p in csv_by_fold.items()], ignore_index=True)
    return {kind: metrics.snr_summary(frame[kind].to_numpy()) for kind in SNR_KINDS}


def pm(cell: dict) -> str:
    return f"{cell['mean']:.2f} ± {cell['sd']:.2f}" if np.isfinite(cell["mean"]) else "n/a"


def write_table(tables_dir: Path, stem: str, rows: list[dict], note: str) -> None:
    """Markdown (laid out like the paper) and CSV (numbers) versions of the registered table
    ``stem`` (``report_files.TABLE``) in ``tables_dir``."""
    title, stem = TABLE[stem].title, Path(tables_dir) / stem
    frame = pd.DataFrame(rows)
    text_cols = [c for c in frame.columns if not c.endswith(("_mean", "_sd", "_n"))]
    md = frame[text_cols]
    lines = [f"**{title}**", "", "| " + " | ".join(md.columns) + " |", "|" + "---|" * len(md.columns)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in md.itertuples(index=False)]
    lines += ["", note, ""]
    with atomic_path(stem.with_suffix(".md")) as tmp:
        tmp.write_text("\n".join(lines))
    with atomic_path(stem.with_suffix(".csv")) as tmp:
        frame.to_csv(tmp, index=False)


def accuracy_row(labels: dict, summary: dict) -> dict:
    row = dict(labels)
    for agg in AGG:
        row[AGG_HEAD[agg]] = pm(summary[agg])
        row[f"{agg}_mean"], row[f"{agg}_sd"] = summary[agg]["mean"], summary[agg]["sd"]
    return row


ACC_NOTE = ("Mean ± SD (%) over folds; SD is the sample SD (ddof=1), a spread over folds that share training "
            "data, not a confidence interval. STFT: the STFT magnitude spectrogram; MF: the mel filterbank (mel) "
            "spectrogram, the paper's name for it. Segments: accuracy per segment; MV: per clip by majority vote "
            "over its segments (ties go to the tied class with the larger summed probability); SR: per clip by the "
            "sum rule (sum of softmax).")
ONE_SEGMENT_NOTE = (" Every clip here is a single segment, so Segments, MV and SR coincide by construction "
                    "(they differ on longer clips, e.g. GTZAN's 30 s: 21 segments each).")


def build(results: dict, out_dir, study: dict | None = None, source_models: dict | None = None) -> dict:
    """Write the metrics (``metrics_details.json``, ``headline/``) and tables III-VII;
    ``results`` maps each result name to per-fold files; ``study``: the transfer study's
    metrics tree (``study.report.build``); ``source_models``: {study source: the models it
    attacks}."""
    out_dir = Path(out_dir)
    tables = out_dir / "tables"
    m = {"clean": {}, "attack": {}, "transfer": {}, "snr": {}, "training": {}, "data": results["data"]}
    for model, paths in results["clean"].items():
        m["clean"][model] = fold_summary(paths)
    m["clean"]["cnn1d_on_stft_rebuild"] = fold_summary(results["transfer"]["stft"]["clean"])
    for rep, by_attack in results["adversarial"].items():
        m["attack"][rep] = {a: fold_summary(p) for a, p in by_attack.items()}
    for rep, by_cond in results["transfer"].items():
        m["transfer"][rep] = {c: fold_summary(p) for c, p in by_cond.items()}
    for rep, by_cond in results["snr"].items():
        m["snr"][rep] = {c: snr_summary(p) for c, p in by_cond.items()}
    for model, paths in results["history"].items():
        hist = {f: pd.read_csv(p) for f, p in paths.items()}
        m["training"][model] = {
            "epochs": metrics.summarise({f: len(h) for f, h in hist.items()}),
            "best_val_accuracy": metrics.summarise({f: 100 * h["val_accuracy"].max() for f, h in hist.items()})}
        # no wall times here: metrics.json must be byte-identical for the same params and seed
    acc_note = ACC_NOTE + (ONE_SEGMENT_NOTE if m["data"]["segments"] == m["data"]["tracks"] else "")
    sweep = read_sweep(results["eps_sweep"])
    m["eps_sweep"] = {rep: {meth: {f"eps_{eps:g}": float(100 * g["vote"].mean()) for eps, g in gm.groupby("eps")}
                            for meth, gm in gr.groupby("method")} for rep, gr in sweep.groupby("representation")}

    write_table(tables, "table3", [
        accuracy_row({"Input": REP_NAME[r]}, m["clean"][f"cnn2d_{r}"]) for r in ("stft", "mel")], acc_note)
    write_table(tables, "table4", [
        accuracy_row({"Input": "Original"}, m["clean"]["cnn1d"]),
        accuracy_row({"Input": "STFT Recons"}, m["clean"]["cnn1d_on_stft_rebuild"])], acc_note)
    write_table(tables, "table5", [
        accuracy_row({"Input": REP_NAME[r], "Attack": a.upper()}, s)
        for r, by in m["attack"].items() for a, s in by.items()], acc_note)
    write_table(tables, "table6", [
        accuracy_row({"Input": f"{REP_NAME[r]} Recons", "Attack": c.upper() if c != "clean" else "None"}, s)
        for r, by in m["transfer"].items() for c, s in by.items()],
        acc_note + " Mel audio is rebuilt by Griffin-Lim (the paper skipped it: even clean rebuilds are noisy).")
    snr_rows = []
    for r, by in m["snr"].items():
        for c, s in by.items():
            row = {"Input": f"Audio Reconstructed ({REP_NAME[r]})", "Attack": c.upper() if c != "clean" else "None"}
            for kind, label in SNR_KINDS.items():
                cell = s[kind]
                row[label] = "∞ (identical)" if c == "clean" and kind in VS_CLEAN_REBUILD else pm(cell)
                row[f"{kind}_mean"], row[f"{kind}_sd"], row[f"{kind}_n"] = cell["mean"], cell["sd"], cell["n"]
            row["silent references"] = s["true_snr_db"]["silent_reference"]
            snr_rows.append(row)
    write_table(tables, "table7", snr_rows,
                "True SNR = 10·log10(P(x)/P(δ)) with x the reference and δ = rebuilt − x (paper eq. 3/4). "
                "The level ratio 20·log10(rms(x)/|rms(x)−rms(x_adv)|) is what the authors' code computed and "
                "reproduces the numbers they published for their own files; it is not an SNR. Silent references "
                "are counted, never averaged. None: the clean rebuild, so only the columns against the original "
                "audio are finite (the paper's None row is the level ratio against the original).")
    if study is not None:
        m["study"] = study
    m = _finite(m)
    with atomic_path(out_dir / DETAILS) as tmp:
        tmp.write_text(json.dumps(m, indent=2, sort_keys=True) + "\n")
    write_headline(headline(m, source_models or {}), out_dir / HEADLINE)
    return m


DETAILS = "metrics_details.json"
HEADLINE = "headline"  # a folder: one file per row of `dvc metrics show`
SHORT = {"cnn2d_stft": "stft", "cnn2d_mel": "mel", "cnn1d": "1d", "samplecnn": "sample", "resnet_mel": "resmel"}
PATH_SHORT = {"clean_phase": "", "waveform": "", "oracle_phase": "_oracle", "griffin_lim": "_gl"}


def headline(m: dict, source_models: dict) -> dict[str, dict]:
    """The run in ~65 figures: {row: {column: value}}, the columns

    - ``acc``: segment accuracy (%), mean over the folds (Tables III-VI);
    - ``snr_db``: the mean true SNR of the attack's rebuild against the clean rebuild
      (white-box rows, Table VII); in a study row, the lowest true SNR its sweep reaches;
    - ``excess_ub``: in a study row (source[_path]_to_target, a target the source does not
      attack: ``source_models``), the largest
      95 % upper bound, over attack methods, controls and budgets, on how many points more
      often the attack fools the target than the control of the same budget does;
    - ``beats``: how many (attack, control) pairs of that row beat the control by more than
      ``study.margin`` points (95 % interval above it) at some budget.
    """
    rows = {f"clean_{SHORT[model]}": {"acc": s["segments"]["mean"]} for model, s in m["clean"].items()
            if model in SHORT}
    for rep, by_method in m["attack"].items():
        for method, s in by_method.items():
            rows[f"whitebox_{rep}_{method}"] = {"acc": s["segments"]["mean"],
                                                "snr_db": m["snr"][rep][method]["true_snr_db"]["mean"]}
    for rep, by_condition in m["transfer"].items():
        for condition, s in by_condition.items():
            rows[f"1d_on_{rep}_{condition}"] = {"acc": s["segments"]["mean"]}
    for direction, by_target in m.get("study", {}).get("verdict", {}).items():
        source, path = direction.split("/")
        for target, by_method in by_target.items():
            if target in source_models[source]:  # white-box: in the rows above
                continue
            cells = [cell for by_control in by_method.values() for cell in by_control.values()]
            bounds = [c["upper_bound"] for c in cells if c["upper_bound"] is not None]
            rows[f"{SHORT.get(source, source)}{PATH_SHORT.get(path, path)}_to_{SHORT[target]}"] = dict(
                excess_ub=max(bounds) if bounds else None, beats=sum(c["beats_snr_db"] is not None for c in cells),
                snr_db=min((c["down_to_snr_db"] for c in cells if c["down_to_snr_db"] is not None), default=None))
    return rows


def write_headline(rows: dict[str, dict], folder: Path) -> None:
    """One JSON file per row into ``folder``; files of rows that no longer exist are removed."""
    folder.mkdir(parents=True, exist_ok=True)
    for stale in set(folder.glob("*.json")) - {folder / f"{name}.json" for name in rows}:
        stale.unlink()
    for name, row in rows.items():
        with atomic_path(folder / f"{name}.json") as tmp:
            tmp.write_text(json.dumps(row, sort_keys=True) + "\n")


# metrics.json's stated precision: every number is in percent points or dB, rounded to 0.01.
# Finer digits are not results: Griffin-Lim's float sums differ between CPUs in the 7th
# significant digit, and `dvc metrics diff` between machines must show nothing for them.
METRIC_DECIMALS = 2


def _finite(obj):
    """JSON has no NaN/inf: they become null (counted separately in the SNR summaries);
    floats are rounded to METRIC_DECIMALS."""
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, float):
        return round(obj, METRIC_DECIMALS) if np.isfinite(obj) else None
    return obj


# -- figures -----------------------------------------------------------------------------------
def save_figure(fig, path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)


def training_curves(histories: dict, path: Path):
    """histories: {model: {fold: csv}} -> one panel per model, loss and accuracy per fold."""
    fig, axes = plt.subplots(2, len(histories), figsize=(4.5 * len(histories), 6), squeeze=False)
    for col, (model, by_fold) in enumerate(histories.items()):
        for fold, csv in by_fold.items():
            h = pd.read_csv(csv)
            axes[0, col].plot(h["epoch"], h["loss"], label=f"fold {fold} train")
            axes[0, col].plot(h["epoch"], h["val_loss"], "--", label=f"fold {fold} val")
            axes[1, col].plot(h["epoch"], 100 * h["accuracy"], label=f"fold {fold} train")
            axes[1, col].plot(h["epoch"], 100 * h["val_accuracy"], "--", label=f"fold {fold} val")
        axes[0, col].set_title(model)
        axes[0, col].set_ylabel("loss")
        axes[1, col].set_ylabel("accuracy (%)")
        axes[1, col].set_xlabel("epoch")
        axes[0, col].legend(fontsize=7)
    save_figure(fig, path)


def confusion(path_in, classes, path: Path, title: str):
    columns = read_parts(path_in, "probs", "label")
    pred, label = columns["probs"].argmax(1), columns["label"]
    matrix = np.zeros((len(classes), len(classes)), int)
    np.add.at(matrix, (label, pred), 1)
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.imshow(matrix, cmap="Blues")
    for (i, j), v in np.ndenumerate(matrix):
        if v:
            ax.text(j, i, v, ha="center", va="center", fontsize=7)
    ax.set_xticks(range(len(classes)), classes, rotation=90, fontsize=8)
    ax.set_yticks(range(len(classes)), classes, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    save_figure(fig, path)


def figure4(clean_path, adversarial_path, path: Path, title: str, row: int = 0):
    """The paper's Fig. 4: clean spectrogram, perturbation, adversarial spectrogram (``row``
    of the first of a fold's parts), against time (s) and frequency (Hz; mel bands at their
    centre frequencies)."""
    with open_shard(part_paths(clean_path)[0], "spec") as c, open_shard(part_paths(adversarial_path)[0]) as a:
        clean, adv = c["spec"][row], read_spectrograms(a, row, c)
        track = read_strings(c["track_id"], slice(row, row + 1))[0]
        config, representation = json.loads(c.attrs["config"]), c.attrs["representation"]
    seconds = clean.shape[1] * config["hop_length"] / config["sample_rate"]
    if representation == "mel":
        import librosa

        centres = librosa.mel_frequencies(clean.shape[0], fmin=config["fmin"], fmax=config["fmax"])
        extent, ylabel = (0, seconds, 0, clean.shape[0]), "mel band (ticks: centre frequency, Hz)"
    else:
        extent, ylabel = (0, seconds, 0, config["sample_rate"] / 2), "frequency (Hz)"
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    lo, hi = np.percentile(clean, [1, 99.9])
    for ax, img, name, kw in ((axes[0], clean, "clean (dB)", dict(vmin=lo, vmax=hi)),
                              (axes[1], adv - clean, "perturbation (dB)", dict(cmap="RdBu")),
                              (axes[2], adv, "adversarial (dB)", dict(vmin=lo, vmax=hi))):
        im = ax.imshow(img, origin="lower", aspect="auto", extent=extent, **kw)
        ax.set_title(name)
        ax.set_xlabel("time (s)")
        if representation == "mel":
            ticks = np.arange(0, clean.shape[0], 16)
            ax.set_yticks(ticks + 0.5, [f"{centres[t]:.0f}" for t in ticks])
        fig.colorbar(im, ax=ax, label="dB")
    axes[0].set_ylabel(ylabel)
    fig.suptitle(f"{title} — {track}")
    save_figure(fig, path)


def read_sweep(sweep_csvs: dict) -> pd.DataFrame:
    """{rep: {attack: {fold: eps-sweep csv}}} -> one table with a ``representation`` column."""
    return pd.concat([pd.read_csv(p).assign(representation=rep) for rep, by_attack in sweep_csvs.items()
                      for by_fold in by_attack.values() for p in by_fold.values()], ignore_index=True)


def eps_curve(sweep_csvs: dict, path: Path):
    frame = read_sweep(sweep_csvs)
    fig, ax = plt.subplots(figsize=(6, 4))
    for (rep, method), g in frame.groupby(["representation", "method"]):
        curve = g.groupby("eps")[["segments", "vote"]].mean() * 100
        ax.plot(curve.index, curve["segments"], marker="o", label=f"{REP_NAME[rep]} {method.upper()} segments")
    ax.set_xscale("symlog", linthresh=0.1)
    ax.set_xlabel("eps (dB)")
    ax.set_ylabel("2D CNN accuracy (%)")
    ax.legend(fontsize=8)
    ax.set_title("Accuracy against eps (mean over folds)")
    save_figure(fig, path)


def write_frame(frame: pd.DataFrame, path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, float_format="%.6g")


def plot_data(results: dict, plots_dir: Path):
    """Data series for `dvc plots` (one file per series, so `dvc plots diff` overlays
    revisions): accuracy against eps per representation and attack (fractions, mean over
    folds) and each model's training history per fold, without wall times, so the files
    change only when the numbers do."""
    sweep = read_sweep(results["eps_sweep"])
    for (rep, method), g in sweep.groupby(["representation", "method"]):
        curve = g.groupby("eps", as_index=False)[list(AGG)].mean()
        write_frame(curve, plots_dir / "accuracy_vs_eps" / f"{rep}_{method}.csv")
    for model, by_fold in results["history"].items():
        for fold, csv in by_fold.items():
            history = pd.read_csv(csv).drop(columns="seconds")
            write_frame(history, plots_dir / "training" / f"{model}_fold{fold}.csv")


def snr_histograms(snr_csvs: dict, path: Path):
    fig, axes = plt.subplots(1, len(snr_csvs), figsize=(6 * len(snr_csvs), 4), squeeze=False)
    for ax, (rep, by_cond) in zip(axes[0], snr_csvs.items(), strict=True):
        for cond, by_fold in by_cond.items():
            if cond == "clean":
                continue
            values = pd.concat([read_csv_parts(p) for p in by_fold.values()])["true_snr_db"]
            values = values[np.isfinite(values)]
            ax.hist(values, bins=30, alpha=0.6, label=f"{cond.upper()} (n={len(values)})")
        ax.set_title(f"{REP_NAME[rep]}: true SNR of rebuilt adversarial audio")
        ax.set_xlabel("true SNR vs clean rebuild (dB)")
        ax.set_ylabel("rebuilt segments (count)")
        ax.legend()
    save_figure(fig, path)
