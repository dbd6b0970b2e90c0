"""How much of a spectrogram attack the rebuild into audio loses, for plain and
round-trip-aware BIM, on a finished run's own models and test segments.

Per spectrogram source (stft, mel), fold and eps of its study sweep: the source 2D CNN's
segment accuracy (against the true genres) on the clean spectrogram, on plain BIM's attacked
spectrogram ("before": what that attack optimised), and on the spectrogram of the audio
rebuilt by the oracle path ("after": the clean phase, or for mel NNLS then the clean phase;
what the study ships on that path) from plain BIM and from round-trip-aware BIM (which
attacks the model behind the rebuild: ``reconstruction.RoundTrip``, study sources with
``round_trip: true``). The share of plain BIM's white-box effect the audio loses is (after -
before) / (clean - before): 0 when the audio keeps all of it, 1 when the rebuild undoes it,
below 0 when the audio fools more. BIM's step and iterations are the run's (attack.bim).

    python bench/round_trip.py                   # the run in this checkout: models/, data/segments
    python bench/round_trip.py --run ../other-clone --segments 60 --json
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
import yaml

from crossrep import models, runtime
from crossrep.features import Spectrogram, SpectrogramConfig
from crossrep.shards import read_parts
from crossrep.study.perturb import Source, perturbed, rebuilt_windows


def fold_windows(run: Path, fold: int, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``limit`` test segments of ``fold`` (every part) and their labels."""
    parts = sorted((run / "data/segments").glob(f"fold{fold}-part*.h5"), key=lambda p: int(p.stem.split("part")[1]))
    rows = read_parts(parts, "audio", "label")
    return rows["audio"][:limit], rows["label"][:limit].astype(np.int64)


def accuracy(model, spectrogram: np.ndarray | torch.Tensor, labels: np.ndarray) -> float:
    with torch.no_grad():
        return float((model(torch.as_tensor(spectrogram)).argmax(1).numpy() == labels).mean() * 100)


def measure(run: Path, params: dict, rep: str, fold: int, limit: int) -> list[dict]:
    """One row per eps of the source's study sweep on ``fold``'s first ``limit`` test segments."""
    model, _ = models.load_checkpoint(run / f"models/cnn2d_{rep}/fold{fold}.pt")
    model = models.inference_copy(model)
    windows, labels = fold_windows(run, fold, limit)
    transform = Spectrogram(SpectrogramConfig.from_params(params["spectrogram"], params["audio"]["sample_rate"]))
    clean = transform.db(rep, windows)
    keys = [f"fold{fold}#{i}" for i in range(len(windows))]
    eps_values = [float(e) for e in params["study"]["sources"][rep]["eps"]]
    rebuild, path = params["reconstruction"], "clean_phase" if rep == "stft" else "oracle_phase"
    n_classes = len(params["dataset"]["genres"])
    # "before": plain BIM's spectrograms, the white-box effect both attacks are measured against
    adversarial = perturbed(model, torch.from_numpy(clean), "bim", eps_values, keys=keys,
                            truth=torch.from_numpy(labels), attack_params=params["attack"], seed=params["seed"],
                            n_classes=n_classes)
    after = {}
    for round_trip in (False, True):
        source = Source(rep, model, n_classes, transform, rebuild["griffin_lim_iterations"],
                        rebuild["nnls_iterations"], representation=rep, round_trip=round_trip)
        shipped = rebuilt_windows(source, windows, clip_rms=np.ones(len(windows)), keys=keys, truth=labels,
                                  kind="bim", eps_values=eps_values, attack_params=params["attack"],
                                  seed=params["seed"])
        after[round_trip] = [accuracy(model, transform.db(rep, audio[path]), labels) for audio in shipped]
    rows, acc_clean = [], accuracy(model, clean, labels)
    for i, eps in enumerate(eps_values):
        before = accuracy(model, adversarial[i], labels)
        effect = acc_clean - before
        row = dict(source=rep, fold=fold, eps=eps, segments=len(labels), clean=acc_clean, before=before,
                   after_plain=after[False][i], after_round_trip=after[True][i])
        for name in ("plain", "round_trip"):
            row[f"lost_{name}"] = (row[f"after_{name}"] - before) / effect if effect > 0 else float("nan")
        rows.append(row)
    return rows


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", type=Path, default=Path("."), help="a finished run's checkout (default: this one)")
    ap.add_argument("--segments", type=int, default=60, help="test segments per fold (default 60)")
    ap.add_argument("--json", action="store_true", help="also print one JSON line of every figure")
    args = ap.parse_args(argv)
    runtime.setup(threads=1)
    params = yaml.safe_load((args.run / "params.yaml").read_text())
    rows = [row for rep in ("stft", "mel") for fold in range(1, params["dataset"]["folds"] + 1)
            for row in measure(args.run, params, rep, fold, args.segments)]
    import pandas as pd

    figures = ["clean", "before", "after_plain", "after_round_trip", "lost_plain", "lost_round_trip"]
    summary = pd.DataFrame(rows).groupby(["source", "eps"], sort=False).agg(
        segments=("segments", "sum"), **{name: (name, "mean") for name in figures}).reset_index()
    print("Source 2D CNN segment accuracy (%, mean over folds): clean; on plain BIM's spectrograms (before);")
    print("on the oracle rebuild of plain and of round-trip-aware BIM (after). lost: (after - before) / (clean -")
    print("before), the share of plain BIM's white-box effect the audio does not keep (mean over folds).")
    print(summary.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    if args.json:
        print(json.dumps({"round_trip": summary.to_dict(orient="records")}))


if __name__ == "__main__":
    main()
