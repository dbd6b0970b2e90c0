"""Controls a transfer attack is compared with, beside the random-sign noise of
``attacks.random_sign``.

``spectrum_matched``: the attack's own rebuilt perturbation δ = x_adv − x_clean_rebuild
with the phase of every STFT bin replaced by a uniform random phase. Its time–frequency
envelope |STFT(δ)| is kept (up to the inconsistency of a phase-randomised STFT, which no
signal has exactly), and it is rescaled to δ's power, so each clip keeps exactly its true
SNR: the same loudness AND spectrum as the attack, without the attack's structure.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ..features import Spectrogram
from ..reconstruction import istft
from ..shards import row_seeds


def spectrum_matched(delta: np.ndarray, transform: Spectrogram, seeds) -> np.ndarray:
    """(n, length) perturbations: each row of ``delta`` with random STFT phases (row i drawn
    from a generator seeded by seeds[i]), resynthesised and rescaled to the row's power.
    A silent row stays silent."""
    delta = torch.as_tensor(np.asarray(delta), dtype=torch.float32)
    if len(seeds) != delta.shape[0]:
        raise ValueError(f"{len(seeds)} row seeds for {delta.shape[0]} perturbations")
    with torch.no_grad():
        magnitude = transform.stft(delta).abs()
        phase = torch.stack([2 * math.pi * torch.rand(magnitude.shape[1:], generator=torch.Generator().manual_seed(s))
                             for s in seeds]) if len(seeds) else torch.zeros_like(magnitude)
        shuffled = istft(transform, torch.polar(magnitude, phase), delta.shape[1]).double()
    power = delta.double().pow(2).mean(1, keepdim=True)
    new_power = shuffled.pow(2).mean(1, keepdim=True)
    gain = torch.where(new_power > 0, torch.sqrt(power / new_power.clamp_min(1e-300)), torch.zeros_like(power))
    return (shuffled * gain).numpy()


def null_seeds(seed: int, track_ids, kind: str, eps: float, path: str) -> list[int]:
    """One seed per clip for the spectrum-matched null of (kind, eps, path), by identity."""
    return row_seeds(seed, [f"{track}#null#{kind}#eps{eps:g}#{path}" for track in track_ids])
