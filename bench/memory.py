"""Peak memory (RSS) of each pipeline step on the synthetic dataset at 1x and 4x size.

Every step runs in a fresh Python process (so peaks do not mix) on shards built for
that size; the step streams its shards in batches, so its peak should not grow with the
dataset. Printed: peak RSS per step, the 4x/1x ratio (target <= 1.3), and the same for
the memory above importing the step modules (the interpreter, torch and librosa).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]

STEPS = {
    "import only": "pass",
    "manifest": "steps.manifest.run(root=R/'raw', out=R/'manifest.csv', params=P)",
    "segments": "steps.segments.run(manifest=R/'manifest.csv', root=R/'raw', out=R/'seg1.h5', fold=1, params=P)",
    "spectrograms": "steps.spectrograms.run(segments=R/'seg1.h5', out=R/'stft1.h5', representation='stft', params=P)",
    "train (1 epoch)": ("steps.train.run(kind='cnn2d_stft', train_shards=[R/'stft1.h5'], checkpoint=R/'m.pt', "
                        "history=R/'m.csv', fold=2, params=dict(P, train=dict(P['train'], epochs=1)))"),
    "attack (BIM)": "steps.adversarial.run(checkpoint=R/'m.pt', spectrograms=R/'stft1.h5', out=R/'adv.h5', "
                    "method='bim', params=P)",
    "train 1D CNN (1 epoch)": ("steps.train.run(kind='cnn1d', train_shards=[R/'seg1.h5'], checkpoint=R/'w.pt', "
                               "history=R/'w.csv', fold=2, params=dict(P, train=dict(P['train'], epochs=1)))"),
    "transfer (rebuild, 1D CNN, SNR)": ("steps.transfer.run(checkpoint=R/'w.pt', segments=R/'seg1.h5', "
                                        "clean=R/'stft1.h5', source=R/'adv.h5', representation='stft', "
                                        "predictions_out=R/'t.h5', snr_out=R/'t.csv', params=dict(P, seed=0))"),
}
PRELUDE = """
import json, resource, sys
from pathlib import Path
import crossrep.steps.adversarial, crossrep.steps.manifest, crossrep.steps.transfer
import crossrep.steps.segments, crossrep.steps.spectrograms, crossrep.steps.train
from crossrep import runtime, steps
runtime.setup(threads=1)  # as a job is set up: one thread, freed memory kept (runtime.keep_freed_memory)
R = Path(sys.argv[1]); P = json.loads(sys.argv[2])
"""


def peak_kb(code: str, root: Path, params: dict) -> int:
    script = PRELUDE + code + "\nprint(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    proc = subprocess.run([sys.executable, "-c", script, str(root), json.dumps(params)], capture_output=True,
                          text=True, check=True)
    return int(proc.stdout.strip().splitlines()[-1])


def measure(tracks_per_genre: int, workdir: Path) -> dict:
    from crossrep.steps import synthesize

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["dataset"]["synthetic"]["tracks_per_genre"] = tracks_per_genre
    params["dataset"]["folds"] = 2
    root = workdir / f"x{tracks_per_genre}"
    synthesize.run(root=root / "raw", params=params)
    return {name: peak_kb(code, root, params) for name, code in STEPS.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tracks", type=int, default=8,
                    help="tracks per genre at 1x (enough for several training batches of 50)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        small = measure(args.tracks, Path(tmp))
        large = measure(4 * args.tracks, Path(tmp))
    base_s, base_l = small["import only"], large["import only"]
    print(f"peak RSS per step, synthetic dataset of {args.tracks} vs {4 * args.tracks} tracks/genre "
          f"(fold 1 of 2: ~{args.tracks * 10 * 3 // 2} vs ~{4 * args.tracks * 10 * 3 // 2} segments)")
    print(f"{'step':<16s} {'1x MB':>8s} {'4x MB':>8s} {'4x/1x':>7s} {'above import 4x/1x':>20s}")
    for name in STEPS:
        s, big = small[name] / 1024, large[name] / 1024
        extra_s, extra_l = (small[name] - base_s) / 1024, (large[name] - base_l) / 1024
        above = f"{extra_l / extra_s:.2f}" if extra_s > 1 else "-"
        print(f"{name:<16s} {s:8.0f} {big:8.0f} {big / s:7.2f} {above:>20s}   (+{extra_s:.0f} / +{extra_l:.0f} MB)")
    print("target: 4x/1x <= 1.3 for every step")


if __name__ == "__main__":
    main()
