"""Peak memory of the manifest and segments steps, and of the CLI's predict and attack,
against recording length.

A folder dataset (clip_seconds 30, 2 folds) holds one long stereo 44.1 kHz recording
beside short clips; the manifest and the segments job of the fold holding that recording
run in fresh processes, each timed for its peak RSS. Then ``crossrep predict`` and
``crossrep attack`` (FGSM) run on the long recording with trained checkpoints (those of
``make run`` by default; skipped, saying so, where there are none). Baseline: the same
with a 5-minute recording, measured in the same run. Decoding streams
(crossrep.audio.stream), so the 1-hour / 5-minute ratio should stay near 1 (<= 1.2;
whole-file decoding gave ~5x), and the CLI within 1 GB for an hour.

    python bench/recording_memory.py                 # 5 min vs 60 min
    python bench/recording_memory.py --minutes 5 120 --json
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import yaml

REPO = Path(__file__).resolve().parents[1]
RATE = 44100
STEP = """
import json, resource, sys
from pathlib import Path
from crossrep.steps import manifest, segments
R, P, which = Path(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
if which == "manifest":
    manifest.run(root=R / "music", out=R / "manifest.csv", params=P)
else:
    import pandas as pd
    fold = int(pd.read_csv(R / "manifest.csv").query("source == 'a/long.wav'").fold.iloc[0])
    segments.run(manifest=R / "manifest.csv", root=R / "music", out=R / "seg.h5", fold=fold, params=P)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""
CLI = """
import resource, sys
from crossrep import cli
assert cli.main(sys.argv[1:]) == 0
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def write_tone(path: Path, seconds: float, rate: int, channels: int, freq: float) -> None:
    """A stereo tone with a slow tremolo, written in 10 s blocks (the bench itself stays small)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with sf.SoundFile(path, "w", rate, channels, subtype="PCM_16") as out:
        for start in range(0, int(seconds * rate), 10 * rate):
            t = (start + np.arange(min(10 * rate, int(seconds * rate) - start))) / rate
            x = 0.3 * np.sin(2 * np.pi * freq * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.1 * t))
            out.write(np.repeat(x[:, None], channels, axis=1))


def peaks(minutes: float, workdir: Path, params: dict, checkpoints: dict) -> dict[str, int]:
    """Peak RSS (KB) of each step on a dataset holding one recording of ``minutes``."""
    root = workdir / f"{minutes:g}min"
    write_tone(root / "music/a/long.wav", 60 * minutes, RATE, 2, 220.0)
    for genre, names in (("a", ["s0"]), ("b", ["s0", "s1"])):
        for k, name in enumerate(names):
            write_tone(root / f"music/{genre}/{name}.wav", 30, RATE, 2, 300.0 + 70 * k + (genre == "b") * 35)

    def peak(script, *args):
        proc = subprocess.run([sys.executable, "-c", script, *map(str, args)], cwd=REPO, capture_output=True,
                              text=True, check=True)
        return int(proc.stdout.strip().splitlines()[-1])
    result = {which: peak(STEP, root, json.dumps(params), which) for which in ("manifest", "segments")}
    long = root / "music/a/long.wav"
    for model, checkpoint in checkpoints.items():
        result[f"predict {model}"] = peak(CLI, "predict", long, "--checkpoint", checkpoint)
        result[f"attack {model}"] = peak(CLI, "attack", long, "--checkpoint", checkpoint, "--attack", "fgsm",
                                         "--eps", 0.1 if model == "cnn1d" else 1.0, "--out", root / f"{model}.wav")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, nargs=2, default=(5.0, 60.0), metavar=("BASE", "LONG"))
    parser.add_argument("--models", default=str(REPO / "models"), help="folder of trained models (make run's)")
    parser.add_argument("--json", action="store_true", help="also print the figures as one JSON line")
    args = parser.parse_args()
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["dataset"].update(kind="folder", genres=["a", "b"], folds=2, clip_seconds=30.0)
    checkpoints = {model: Path(args.models) / model / "fold1.pt" for model in ("cnn2d_stft", "cnn1d")}
    checkpoints = {model: path for model, path in checkpoints.items() if path.exists()}
    if not checkpoints:
        print(f"no checkpoints under {args.models}: the CLI is not measured (make run trains them)")
    base_minutes, long_minutes = args.minutes
    with tempfile.TemporaryDirectory() as tmp:
        base = peaks(base_minutes, Path(tmp), params, checkpoints)
        long = peaks(long_minutes, Path(tmp), params, checkpoints)
    print(f"peak RSS (MB), one {RATE} Hz stereo recording of {base_minutes:g} vs {long_minutes:g} min "
          "beside 30 s clips")
    print(f"{'step':<20}{f'{base_minutes:g} min':>10}{f'{long_minutes:g} min':>10}{'ratio':>8}")
    for step in base:
        print(f"{step:<20}{base[step] / 1024:10.0f}{long[step] / 1024:10.0f}{long[step] / base[step]:8.2f}")
    print("target: ratio <= 1.2 (memory bounded by a clip or a window, not a recording); the CLI within 1 GB")
    if args.json:
        print(json.dumps({"bench": "recording_memory", "minutes": [base_minutes, long_minutes],
                          "peak_mb": {step: [base[step] / 1024, long[step] / 1024] for step in base}}))


if __name__ == "__main__":
    main()
