"""Peak memory (RSS) of each pipeline step on the synthetic dataset at 1x and 4x size.

Every step runs in a fresh Python process (so peaks do not mix) on shards built for
that size; the step streams its shards in batches, so its peak should not grow with the
dataset. Printed: peak RSS per step, the 4x/1x ratio (target <= 1.3), and the same for
the memory above a bare `import crossrep.steps` (the interpreter, torch and librosa).
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
    "manifest": "steps.manifest(R/'raw', R/'manifest.csv', P['dataset'], 22050, P['segment'], P['seed'])",
    "segments": ("steps.segments(R/'manifest.csv', R/'raw', R/'seg1.h5', 1, P['dataset']['genres'], 22050, "
                 "P['dataset']['clip_seconds'], P['segment'])"),
    "spectrograms": "steps.spectrograms(R/'seg1.h5', R/'stft1.h5', 'stft', CFG, P['spectrogram']['batch_size'])",
    "train (1 epoch)": ("steps.train('cnn2d_stft', [R/'stft1.h5'], R/'m.pt', R/'m.csv', 2, P['dataset']['genres'], "
                        "P['model'], dict(P['train'], epochs=1), P['seed'], 22050, "
                        "{'segment': P['segment'], 'spectrogram': P['spectrogram']})"),
    "attack (BIM)": "steps.adversarial(R/'m.pt', R/'stft1.h5', R/'adv.h5', 'bim', P['attack'], P['seed'])",
    "reconstruct": ("steps.reconstruct(R/'seg1.h5', R/'adv.h5', R/'rec.h5', 'stft', CFG, "
                    "P['reconstruction']['griffin_lim_iterations'], P['reconstruction']['batch_size'], 0)"),
}
PRELUDE = """
import json, resource, sys, torch
from pathlib import Path
from crossrep import steps
from crossrep.features import SpectrogramConfig
torch.set_num_threads(1)
R = Path(sys.argv[1]); P = json.loads(sys.argv[2])
CFG = SpectrogramConfig.from_params(P['spectrogram'], 22050)
"""


def peak_kb(code: str, root: Path, params: dict) -> int:
    script = PRELUDE + code + "\nprint(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    proc = subprocess.run([sys.executable, "-c", script, str(root), json.dumps(params)], capture_output=True,
                          text=True, check=True)
    return int(proc.stdout.strip().splitlines()[-1])


def measure(tracks_per_genre: int, workdir: Path) -> dict:
    from crossrep import steps

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["dataset"]["synthetic"]["tracks_per_genre"] = tracks_per_genre
    params["dataset"]["folds"] = 2
    root = workdir / f"x{tracks_per_genre}"
    steps.synthesize(root / "raw", params["dataset"], 22050, params["seed"])
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
        s, l = small[name] / 1024, large[name] / 1024
        extra_s, extra_l = (small[name] - base_s) / 1024, (large[name] - base_l) / 1024
        above = f"{extra_l / extra_s:.2f}" if extra_s > 1 else "-"
        print(f"{name:<16s} {s:8.0f} {l:8.0f} {l / s:7.2f} {above:>20s}   (+{extra_s:.0f} / +{extra_l:.0f} MB)")
    print("target: 4x/1x <= 1.3 for every step")


if __name__ == "__main__":
    main()
