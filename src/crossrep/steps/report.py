"""Rule ``report``: the metrics, Tables III-VII, figures, plot series and the page."""
from __future__ import annotations

import json
from pathlib import Path

from .. import dataset, listening, reports
from ..report_files import STUDY_FIGURES, TABLES
from ..runtime import log
from ..shards import open_shard, part_paths
from ..study import models_of
from ..study import report as study_report


def run(*, results: dict, out_dir, page_path, figures_dir, plots_dir, params: dict) -> None:
    """The metrics (``out_dir``/metrics_details.json and ``out_dir``/headline/), Tables
    III-VII, figures, DVC plot data and the listening page from every per-fold result
    (``results``: the paths by kind, see report.smk).
    """
    dataset_kind = params["dataset"]["kind"]
    out_dir, figures_dir = Path(out_dir), Path(figures_dir)
    table = dataset.read_manifest(results["manifest"])
    data = dict(tracks=int((table.status != "skipped").sum()), skipped_files=int((table.status == "skipped").sum()),
                padded_clips=int((table.status == "padded").sum()), segments=0, dropped_silent_segments=0)
    for path in (p for fold_parts in results["segments"].values() for p in part_paths(fold_parts)):
        with open_shard(path, "audio") as h5:
            data["segments"] += int(h5["audio"].shape[0])
            data["dropped_silent_segments"] += int(h5.attrs["dropped_silent"])
    results = dict(results, data=data)
    with open_shard(part_paths(next(iter(results["segments"].values())))[0], "audio") as h5:
        classes, sample_rate = json.loads(h5.attrs["genres"]), int(h5.attrs["sample_rate"])
    study, study_html = study_report.build(results["study"], out_dir, figures_dir, plots_dir, params, classes,
                                           sample_rate)
    reports.build(results, out_dir, study, models_of(params["study"]["sources"]))
    figures = [figures_dir / "training_curves.png"]
    reports.training_curves(results["history"], figures[0])
    for rep, by_attack in results["adversarial"].items():
        for method, by_fold in by_attack.items():
            fold = min(by_fold)
            figures.append(figures_dir / f"fig4_{rep}_{method}.png")
            reports.figure4(results["spectrograms"][rep][fold], by_fold[fold], figures[-1],
                            f"{rep.upper()} {method.upper()} (fold {fold})")
    figures.append(figures_dir / "accuracy_vs_eps.png")
    reports.eps_curve(results["eps_sweep"], figures[-1])
    figures += [figures_dir / f"{name}.png" for name in STUDY_FIGURES]
    figures.append(figures_dir / "snr_distributions.png")
    reports.snr_histograms(results["snr"], figures[-1])
    reports.plot_data(results, Path(plots_dir))
    for model, by_fold in results["clean"].items():
        for fold, path in by_fold.items():
            figures.append(figures_dir / "confusion" / f"{model}_fold{fold}.png")
            reports.confusion(path, classes, figures[-1], f"{model}, test fold {fold} (segments)")
    tables = {table.title: out_dir / "tables" / f"{table.stem}.csv" for table in TABLES}
    prefix = {fold: f"audio/fold{fold}" for fold in results["listening"]}
    listening.render_page(page_path, tables, figures, list(results["listening"].values()), prefix,
                          f"{dataset_kind}, {data['tracks']} clips, {data['segments']} segments", study_html)
    log.info("report written: %s, %s", out_dir, page_path)
