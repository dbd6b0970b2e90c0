"""Why a preset's 2D CNNs do not learn: its choices added to params.yaml one at a time.

Step 0 is params.yaml alone. Then, cumulatively and in the preset file's order: the
preset's spectrogram scales (``spectrogram.*_scale``, one step: the representation), each
further ``spectrogram`` key of the preset (e.g. ``top_db``), and each ``model.cnn2d`` key of
the preset (dropout, BatchNorm, activation, pools, conv dropout). The last step is
params.yaml with every spectrogram and 2D CNN choice of the preset laid over it; the
preset's other keys (attack, labels) do not touch a clean model. At every step both 2D
CNNs are trained per test fold exactly as the pipeline's ``train`` rule trains them (same
steps, same seed, same training params) on the pipeline's own shards of the synthetic
dataset, and scored on their clean test fold: segment accuracy on true genres.

    python -m crossrep.ablation                          # presets/authors-code.yaml, every fold
    python -m crossrep.ablation --preset presets/x.yaml --folds 1 --jobs 2 --out ablation.csv

Writes one CSV row per step, representation and fold (``--out``, default
``reports/tables/ablation.csv``) and prints the table: mean ± SD over folds. Runs
``--jobs`` trainings side by side, one thread each (default 2).
"""
from __future__ import annotations

import argparse
import copy
import hashlib
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[2]
REPRESENTATIONS = ("stft", "mel")


def merged(params: dict, overlay: dict) -> dict:
    """``params`` with ``overlay`` laid over it key by key, by Snakemake's own ``update_config``
    (what a later ``--configfile`` does), on copies."""
    from snakemake.utils import update_config

    out = copy.deepcopy(params)
    update_config(out, copy.deepcopy(overlay))
    return out


def ablation_steps(params: dict, preset: dict) -> list[tuple[str, dict]]:
    """(what the step adds, its full params) for every step, cumulative (see the module)."""
    spectrogram = preset.get("spectrogram", {})
    scales = {k: v for k, v in spectrogram.items() if k.endswith("_scale")}
    additions = []
    if scales:
        additions.append((", ".join(f"{k}: {v}" for k, v in scales.items()), {"spectrogram": scales}))
    additions += [(f"spectrogram.{k}: {v}", {"spectrogram": {k: v}}) for k, v in spectrogram.items() if k not in scales]
    additions += [(f"model.cnn2d.{k}: {json.dumps(v)}", {"model": {"cnn2d": {k: v}}})
                  for k, v in preset.get("model", {}).get("cnn2d", {}).items()]
    steps, current = [("params.yaml", copy.deepcopy(params))], params
    for name, overlay in additions:
        current = merged(current, overlay)
        steps.append((f"+ {name}", current))
    return steps


def segment_shards(work: Path, params: dict) -> dict[int, Path]:
    """The synthetic dataset's segment shard of every fold (one part each), built once."""
    from .steps import manifest, segments, synthesize

    raw, table = work / "raw", work / "manifest.csv"
    if not table.exists():
        synthesize.run(root=raw, params=params)
        manifest.run(root=raw, out=table, params=params)
    paths = {}
    for fold in range(1, params["dataset"]["folds"] + 1):
        paths[fold] = work / "segments" / f"fold{fold}.h5"
        if not paths[fold].exists():
            segments.run(manifest=table, root=raw, out=paths[fold], fold=fold, params=params)
    return paths


def spectrogram_shards(work: Path, segments: dict[int, Path], params: dict) -> dict:
    """{rep: {fold: shard}} on ``params``' spectrogram settings (shared by every step that has them)."""
    from .steps import spectrograms

    key = hashlib.sha256(json.dumps(params["spectrogram"], sort_keys=True).encode()).hexdigest()[:12]
    out = {}
    for rep in REPRESENTATIONS:
        out[rep] = {}
        for fold, seg in segments.items():
            out[rep][fold] = work / f"spectrograms-{key}" / rep / f"fold{fold}.h5"
            if not out[rep][fold].exists():
                spectrograms.run(segments=seg, out=out[rep][fold], representation=rep, params=params)
    return out


def train_and_score(work: Path, step: int, rep: str, fold: int, shards: dict, params: dict) -> dict:
    """Train the ``rep`` 2D CNN for test fold ``fold`` as the pipeline does; its clean
    segment accuracy on that fold."""
    from . import models, runtime
    from .shard_rows import ShardRows
    from .steps import train
    from .train import evaluate

    runtime.setup(threads=1)
    kind, folder = f"cnn2d_{rep}", work / f"step{step}"
    checkpoint = folder / f"{kind}-fold{fold}.pt"
    train.run(kind=kind, train_shards=[path for k, path in shards.items() if k != fold], checkpoint=checkpoint,
              history=checkpoint.with_suffix(".csv"), fold=fold, params=params)
    model, ckpt = models.load_checkpoint(checkpoint, "cpu")
    with ShardRows([shards[fold]], "spec") as rows:
        _, accuracy, _ = evaluate(model, rows, np.arange(len(rows)), params["train"]["batch_size"], "cpu")
    return dict(step=step, rep=rep, fold=fold, accuracy=accuracy, epochs=ckpt["history"]["epochs"],
                best_val_accuracy=ckpt["history"]["best_val_accuracy"])


def run(params: dict, preset: dict, work: Path, folds=None, jobs: int = 2) -> pd.DataFrame:
    """Every step's clean accuracies: one row per step, representation and test fold."""
    work = Path(work)
    steps = ablation_steps(params, preset)
    segments = segment_shards(work, params)
    folds = list(folds or segments)
    tasks = []
    for index, (_, step_params) in enumerate(steps):
        shards = spectrogram_shards(work, segments, step_params)
        tasks += [(work, index, rep, fold, shards[rep], step_params) for rep in REPRESENTATIONS for fold in folds]
    with ProcessPoolExecutor(jobs, mp_context=get_context("spawn")) as pool:
        rows = list(pool.map(train_and_score, *zip(*tasks, strict=True)))
    table = pd.DataFrame(rows)
    table.insert(1, "adds", [steps[i][0] for i in table["step"]])
    return table


def summary(table: pd.DataFrame) -> str:
    """The markdown table: clean segment accuracy (%) per step, mean ± SD over test folds."""
    cells = table.groupby(["step", "adds", "rep"], sort=True)["accuracy"].agg(["mean", "std", "count"]).reset_index()
    lines = ["| step | adds | STFT 2D CNN (%) | mel 2D CNN (%) |", "| --- | --- | --- | --- |"]
    for (step, adds), rows in cells.groupby(["step", "adds"], sort=True):
        by_rep = rows.set_index("rep")
        values = [f"{100 * by_rep.at[rep, 'mean']:.1f}" + (f" ± {100 * by_rep.at[rep, 'std']:.1f}"
                                                          if by_rep.at[rep, "count"] > 1 else "")
                  for rep in REPRESENTATIONS]
        lines.append(f"| {step} | {adds} | {values[0]} | {values[1]} |")
    folds = int(cells["count"].max())
    spread = (f"mean ± SD over {folds} test folds whose models share training data (not a confidence interval)"
              if folds > 1 else "one test fold")
    lines.append(f"\nClean segment accuracy on true genres of the test fold (10 genres: chance 10 %), {spread}.")
    return "\n".join(lines)


def main(argv=None) -> None:
    from .shards import atomic_path

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--params", type=Path, default=REPO / "params.yaml")
    ap.add_argument("--preset", type=Path, default=REPO / "presets/authors-code.yaml")
    ap.add_argument("--folds", type=int, nargs="+", help="test folds (default: every fold)")
    ap.add_argument("--jobs", type=int, default=2, help="trainings side by side (one thread each)")
    ap.add_argument("--work", type=Path, default=Path("ablation"), help="folder for its data and checkpoints")
    ap.add_argument("--out", type=Path, default=REPO / "reports/tables/ablation.csv")
    args = ap.parse_args(argv)
    params, preset = yaml.safe_load(args.params.read_text()), yaml.safe_load(args.preset.read_text())
    table = run(params, preset, args.work, args.folds, args.jobs)
    with atomic_path(args.out) as tmp:
        table.to_csv(tmp, index=False)
    print(summary(table))
    print(f"rows: {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
