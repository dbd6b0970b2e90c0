"""What pinning the kernels' instruction set (params.yaml compute.cpu_isa) costs: the
default run's heaviest kinds of work, each timed in a fresh interpreter per pin (the pin is
an environment read as numpy and torch load), as a ratio against the unpinned (native)
kernels measured in the same run.

Work items, at the demo's widths and 5 s segments on one thread (as the jobs run):
training steps of the STFT and mel 2D CNNs and of the 1D CNN (forward + backward + Adam,
batch 50), BIM on the mel 2D CNN (10 iterations, 25 segments), 16 Griffin-Lim
iterations and the mel -> STFT NNLS (100 updates) of 16 segments. Pins above the machine's
own instruction set are skipped (they would run the machine's kernels anyway).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LEVELS = ("sse4", "avx2", "avx512")


def work() -> dict[str, float]:
    """Seconds of each work item in this interpreter (its kernels as pinned by its environment)."""
    import numpy as np
    import torch
    import yaml

    from crossrep import models, reconstruction, runtime, synthetic, train
    from crossrep.attacks import AttackConfig, attack
    from crossrep.features import Spectrogram, SpectrogramConfig
    from timing import best_seconds

    runtime.setup(threads=1)
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    spec = Spectrogram(SpectrogramConfig.from_params(params["spectrogram"], 22050))
    genres = params["dataset"]["genres"]
    audio = np.stack([synthetic.generate_track(genres[i % 10], i, 0, 5.0, 22050) for i in range(50)])
    inputs = {"cnn2d_stft": torch.from_numpy(spec.db("stft", audio)),
              "cnn2d_mel": torch.from_numpy(spec.db("mel", audio)), "cnn1d": torch.from_numpy(audio)}
    labels = torch.arange(50) % 10
    seconds = {"kernels": runtime.cpu_kernels()}
    for kind, x in inputs.items():
        model = (models.CNN1D(**params["model"]["cnn1d"]) if kind == "cnn1d"
                 else models.CNN2D(x.shape[1], x.shape[2], 10, **params["model"]["cnn2d"]))
        opt = train.adam(model, 1e-4)

        def step(model=model, opt=opt, x=x):
            loss = torch.nn.functional.cross_entropy(model(x), labels)
            opt.zero_grad()
            loss.backward()
            opt.step()
        seconds[f"train step {kind}"] = best_seconds(step, 2, warmup=1)
    mel_model = models.CNN2D(*inputs["cnn2d_mel"].shape[1:], 10, **params["model"]["cnn2d"]).eval()
    bim = AttackConfig.from_params("bim", params["attack"])
    seconds["BIM mel 2D CNN"] = best_seconds(lambda: attack(mel_model, inputs["cnn2d_mel"][:25], labels[:25], bim),
                                             1, warmup=1)
    magnitude = spec.stft(audio[:16]).abs().numpy()
    seconds["Griffin-Lim"] = best_seconds(lambda: reconstruction.griffin_lim(spec, magnitude, 16, audio.shape[1],
                                                                             seed=0), 1, warmup=1)
    mel = spec.magnitude("mel", audio[:16])
    seconds["mel NNLS"] = best_seconds(lambda: reconstruction.mel_to_magnitude(spec, mel, 100), 1, warmup=1)
    return seconds


def measure(isa: str) -> dict:
    """The work items' seconds in a fresh interpreter pinned to ``isa``."""
    from crossrep import runtime

    out = subprocess.run([sys.executable, __file__, "--worker"], env=runtime.pinned_environment(isa), check=True,
                         capture_output=True, text=True, cwd=REPO)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(work()))
        return
    native = measure("native")
    machine = {"DEFAULT": 0, "AVX2": 1, "AVX512": 2}.get(native.pop("kernels"), 0)
    pins = {isa: measure(isa) for isa in LEVELS[: machine + 1]}
    print(f"Kernels pinned (compute.cpu_isa) against native ({LEVELS[machine]} here), 1 thread; "
          "seconds and ratio pinned / native")
    print(f"{'work':<24s} {'native':>8s}" + "".join(f" {isa:>15s}" for isa in pins))
    total = {isa: 0.0 for isa in ("native", *pins)}
    for item, base in native.items():
        row = f"{item:<24s} {base:8.3f}"
        total["native"] += base
        for isa, pinned in pins.items():
            row += f" {pinned[item]:8.3f} {pinned[item] / base:5.2f}x"
            total[isa] += pinned[item]
        print(row)
    print(f"{'all items':<24s} {total['native']:8.3f}"
          + "".join(f" {total[isa]:8.3f} {total[isa] / total['native']:5.2f}x" for isa in pins))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main()
