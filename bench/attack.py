"""Attack and reconstruction throughput, each against a baseline measured in the same run:

* BIM (10 iterations) batched over segments against one segment at a time, as the
  authors' cleverhans loop ran it (target >= 5x);
* batched Griffin-Lim (crossrep.features) against librosa.griffinlim, one segment at a
  time, at equal iterations (target >= 2x).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import librosa
import numpy as np
import torch
import yaml

from crossrep import models, synthetic
from crossrep.attacks import AttackConfig, attack
from crossrep.features import Spectrogram, SpectrogramConfig
from crossrep.reconstruction import griffin_lim
from timing import best_seconds

REPO = Path(__file__).resolve().parents[1]


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--segments", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rep", choices=["stft", "mel"], default="mel")
    ap.add_argument("--gl-iterations", type=int, default=16)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    cfg = SpectrogramConfig.from_params(params["spectrogram"], 22050)
    spec = Spectrogram(cfg)
    audio = np.stack([synthetic.generate_track(g, i, 0, 5.0, 22050)
                      for i, g in zip(range(args.segments), params["dataset"]["genres"] * 10, strict=False)])
    x = torch.from_numpy(spec.db(args.rep, audio))
    model = models.CNN2D(x.shape[1], x.shape[2], 10, **params["model"]["cnn2d"]).eval()
    y = torch.randint(0, 10, (len(x),))
    bim = AttackConfig.from_params("bim", params["attack"])
    attack(model, x[:2], y[:2], bim)  # warm-up
    loop = best_seconds(lambda: [attack(model, x[i:i + 1], y[i:i + 1], bim) for i in range(len(x))], repeats=1)
    batched = best_seconds(lambda: attack(model, x, y, bim), repeats=1)
    print(f"BIM, {bim.iterations} iterations, {args.rep} {tuple(x.shape[1:])}, demo 2D CNN, {args.threads} threads")
    print(f"  one segment at a time (baseline): {len(x) / loop:8.2f} segments/s")
    print(f"  batched ({len(x)} segments)          : {len(x) / batched:8.2f} segments/s")
    print(f"  ratio                            : {loop / batched:8.2f}x  (target >= 5x)")

    mag = spec.stft(audio).abs().numpy()
    n = args.gl_iterations
    base = best_seconds(lambda: [librosa.griffinlim(m, n_iter=n, hop_length=cfg.hop_length, n_fft=cfg.n_fft,
                                             length=audio.shape[1], random_state=0) for m in mag], repeats=1)
    ours = best_seconds(lambda: griffin_lim(spec, mag, n, audio.shape[1], seed=0), repeats=1)
    print(f"Griffin-Lim, {n} iterations, {len(mag)} segments of 5 s")
    print(f"  librosa.griffinlim per segment (baseline): {len(mag) / base:8.2f} segments/s")
    print(f"  crossrep batched                          : {len(mag) / ours:8.2f} segments/s")
    print(f"  ratio                                     : {base / ours:8.2f}x  (target >= 2x)")


if __name__ == "__main__":
    main()
