"""Training throughput (segments/s) of each model at paper and demo widths; the Adam step
over the paper-width STFT 2D CNN's weights, fused (as training runs it) against torch's
CPU default (a loop of elementwise ops); and the 1D CNN's Gammatone layer as a direct
convolution against the exact FFT convolution.

Random inputs of the real shapes; forward + backward + Adam step; best of a few steps
after a warm-up. Ratios are against baselines measured in the same run.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch
import yaml

from crossrep import models, runtime, train
from timing import best_seconds

REPO = Path(__file__).resolve().parents[1]
PAPER = yaml.safe_load((REPO / "presets/gtzan-paper.yaml").read_text())["model"]
SHAPES = {"cnn2d_stft": (257, 431), "cnn2d_mel": (64, 431), "cnn1d": (110250,)}


def build(kind, preset):
    if kind == "cnn1d":
        return models.CNN1D(**preset["cnn1d"])
    return models.CNN2D(*SHAPES[kind], 10, **preset["cnn2d"])


def seconds_per_step(model, batch, steps=3, training=True):
    x = torch.randn(batch, *SHAPES["cnn1d" if isinstance(model, models.CNN1D) else
                           ("cnn2d_stft" if model.norm.mean.shape[1] == 257 else "cnn2d_mel")])
    y = torch.randint(0, 10, (batch,))
    opt = train.adam(model, 1e-4)  # as training builds it

    def step():
        if training:
            loss = torch.nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        else:
            with torch.no_grad():
                model(x)
    return best_seconds(step, steps, warmup=1)


def adam_seconds(optimiser, steps=2) -> float:
    """Best time of one ``optimiser.step()`` after a warm-up step (which allocates the moments)."""
    return best_seconds(optimiser.step, steps, warmup=1)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=8, help="demo batch (paper widths use 2: 1.7 GB dense layer)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    runtime.keep_freed_memory()  # as the pipeline's jobs run
    demo = yaml.safe_load((REPO / "params.yaml").read_text())["model"]
    print(f"torch {torch.__version__}, {args.threads} threads; forward+backward+Adam, random inputs")
    print(f"{'model':<12s} {'widths':<6s} {'params':>12s} {'segments/s':>11s}")
    for kind in SHAPES:
        for name, preset, batch in (("demo", demo, args.batch), ("paper", PAPER, 2)):
            model = build(kind, preset)
            n = sum(p.numel() for p in model.parameters())
            rate = batch / seconds_per_step(model, batch, steps=2 if name == "paper" else 3)
            print(f"{kind:<12s} {name:<6s} {n:>12,d} {rate:>11.2f}")
            del model
    model = build("cnn2d_stft", PAPER)
    weights = [p for p in model.parameters() if p.requires_grad]
    for w in weights:
        w.grad = torch.randn_like(w)
    print(f"\nAdam step over the paper-width STFT 2D CNN's {sum(w.numel() for w in weights):,} weights:")
    loop = adam_seconds(torch.optim.Adam(weights, 1e-4, foreach=False))
    print(f"  {'torch default on CPU (loop, baseline)':<38s}: {loop:8.3f} s")
    fused = adam_seconds(train.adam(model, 1e-4))
    print(f"  {'fused (train.adam, as training runs)':<38s}: {fused:8.3f} s")
    print(f"  ratio loop / fused                    : {loop / fused:8.2f}x")
    del model, weights
    print("\n1D CNN (paper widths), Gammatone 32 x 512 taps, forward on a batch of 8:")
    times = {}
    for fft in (False, True):
        preset = {**PAPER["cnn1d"], "fft_gammatone": fft}
        model = models.CNN1D(**preset).eval()
        times[fft] = seconds_per_step(model, 8, steps=2, training=False)
        print(f"  {'FFT convolution' if fft else 'direct conv1d (baseline)':<26s}: {8 / times[fft]:8.2f} segments/s")
    print(f"  ratio FFT / direct         : {times[False] / times[True]:8.2f}x")


if __name__ == "__main__":
    main()
