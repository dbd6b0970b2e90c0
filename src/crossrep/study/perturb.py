"""One source's perturbations, rebuilt into audio window by window.

Spectrogram sources (``stft``, ``mel``): the window's spectrogram on the configured scale,
perturbed by an attack on that source's 2D CNN (eps in dB) or by the noise control, then
rebuilt: STFT with the clean window's own reference (phase, or Im X); mel through NNLS and
either the clean STFT phase ("oracle_phase": the attack's own effect) or Griffin-Lim
seeded per window ("griffin_lim": what an attacker without the phase gets). A round-trip-aware
source attacks the model behind the oracle rebuild (``reconstruction.RoundTrip``). The same
rebuild as ``reconstruction.invert`` (which the pipeline's reconstruct rule uses), written
out here so the NNLS, the costliest part, runs once for both mel paths.

Waveform sources (``cnn1d``, and any with ``models``): the window's samples attacked in units
of the clip's RMS (each model sees ``u * rms``: the 1D CNN the samples, a 2D CNN their
spectrogram, differentiably; several models, an ensemble), so eps maps onto SNR: FGSM and
the noise control move every sample by eps * rms, a true SNR of -20 log10(eps) dB. Nothing
is rebuilt: what ships is what the attack optimised.

eps 0 is the clean rebuild of each path, the reference every SNR of that path is taken
against. An attack named "<method>_init" is crafted on the source's untrained twin
(``Source.untrained``). Random draws follow ``attacks``' seeding rule (per window
identity); the noise control's signs are drawn afresh for every eps and draw; Griffin-Lim
starts every version of a window from the same random phases. A whole eps sweep is
perturbed in one pass (FGSM's gradient is taken once for all of it).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..attacks import AttackConfig, Ensemble, attack_labels, attack_sweep, random_sign, row_seeds
from ..audio import power
from ..reconstruction import NNLS_ITERATIONS, RoundTrip, griffin_lim, invert, istft, mel_to_magnitude
from . import NOISE, WAVEFORM, attack_method
from .clips import tile, untile


class ScaledInput(nn.Module):
    """``model(u * scale)``: lets an L-inf attack on ``u`` be a budget relative to the clip's RMS."""

    def __init__(self, model: nn.Module, scale: torch.Tensor):
        super().__init__()
        self.model, self.scale = model, scale

    def forward(self, u):
        return self.model(u * self.scale)


@dataclass
class Source:
    """``name``: a ``study.sources`` name; ``model``: its model (None for the noise control
    alone; an ``Ensemble`` of waveform-reading models for a waveform source); ``transform``:
    the spectrogram a spectrogram source attacks in (``representation``: stft | mel), None
    for a waveform source; ``untrained``: the same architecture with fresh weights
    (``models.untrained_like``), which the "_init" attacks are crafted on; ``models``: the
    kinds of the models attacked; ``round_trip``: attack the model behind the oracle rebuild."""
    name: str
    model: nn.Module | None
    n_classes: int
    transform: object = None
    griffin_lim_iterations: int = 32
    nnls_iterations: int = NNLS_ITERATIONS
    untrained: nn.Module | None = None
    models: tuple[str, ...] = ()
    representation: str | None = None
    round_trip: bool = False

    def __post_init__(self):
        if self.transform is not None and self.representation is None:
            self.representation = self.name  # a source named for its spectrogram (stft, mel)

    @property
    def waveform(self) -> bool:
        return self.transform is None

    def model_for(self, kind: str) -> nn.Module | None:
        return self.untrained if kind.endswith("_init") else self.model


def perturbed(model, clean: torch.Tensor, kind: str, eps_values, *, keys, truth, attack_params: dict, seed: int,
              n_classes: int, labels: torch.Tensor | None = None, draw: int = 0) -> list[torch.Tensor]:
    """``clean`` moved by ``kind`` (an attack method or ``noise``) at every budget of
    ``eps_values``, one tensor per eps (eps 0: ``clean``). An attack's labels are taken once
    and its sweep run by ``attacks.attack_sweep``; the noise control's signs are drawn per
    window, eps and ``draw``. ``labels``: explicit attack labels (e.g. a chosen target)
    instead of ``attack.label``."""
    eps_values = [float(eps) for eps in eps_values]
    out = dict.fromkeys((eps for eps in eps_values if eps == 0), clean)
    budgets = [eps for eps in eps_values if eps != 0]
    if kind == NOISE:
        out |= {eps: random_sign(clean, eps, row_seeds(seed, [f"{key}#eps{eps:g}#draw{draw}" for key in keys]))
                for eps in budgets}
    elif budgets:
        method = attack_method(kind)
        if labels is None:
            labels = attack_labels(model, clean, truth, attack_params["label"], attack_params["targeted"], n_classes)
        cfgs = [AttackConfig.from_params(method, attack_params, eps=eps) for eps in budgets]
        out |= dict(zip(budgets, attack_sweep(model, clean, labels, cfgs, row_seeds(seed, keys)), strict=True))
    return [out[eps] for eps in eps_values]


def rebuilt_windows(source: Source, windows: np.ndarray, *, clip_rms: np.ndarray, keys, truth: np.ndarray | None,
                    kind: str, eps_values, attack_params: dict, seed: int,
                    labels: np.ndarray | None = None, draw: int = 0) -> list[dict[str, np.ndarray]]:
    """Per eps of ``eps_values``, {path: (n_windows, window) audio} for one batch of windows
    of one or more clips (the whole sweep perturbed in one pass, then rebuilt eps by eps).

    ``clip_rms``: per window, the RMS of the clip it belongs to (waveform budgets);
    ``keys``: per window identity ("track#tileJ"); ``truth``: per window genre label;
    ``labels``: explicit attack labels (targets), overriding ``attack.label``; ``draw``:
    which of the noise control's draws (each eps and draw has its own signs).
    """
    def tensor(x):
        return None if x is None else torch.as_tensor(x, dtype=torch.int64)
    common = dict(keys=keys, truth=tensor(truth), attack_params=attack_params, seed=seed, n_classes=source.n_classes,
                  labels=tensor(labels), draw=draw)
    model, length = source.model_for(kind), windows.shape[1]
    if source.waveform:
        scale = torch.as_tensor(clip_rms, dtype=torch.float32)[:, None]
        u = torch.as_tensor(windows, dtype=torch.float32) / scale
        members = model.members if isinstance(model, Ensemble) else [model]
        scaled = Ensemble([ScaledInput(m, scale) for m in members]) if model is not None else None
        return [{WAVEFORM: (adv * scale).numpy()} for adv in perturbed(scaled, u, kind, eps_values, **common)]
    transform, rep = source.transform, source.representation
    clean = torch.from_numpy(transform.db(rep, windows))
    reference = transform.reference(rep, windows)
    phase = transform.phase(windows) if rep == "mel" else None
    if source.round_trip and model is not None:
        model = RoundTrip(model, transform, rep, reference, phase, length, source.nnls_iterations)
    gl_seeds = row_seeds(seed, keys)
    out = []
    for adv in perturbed(model, clean, kind, eps_values, **common):  # rebuilt one eps at a time: cache-sized
        if rep == "stft":
            out.append({"clean_phase": invert(transform, "stft", adv.numpy(), length, reference=reference)})
            continue
        # one NNLS for both paths: the mel magnitude is the same, only the phase differs
        magnitude = mel_to_magnitude(transform, transform.linear("mel", adv, reference), source.nnls_iterations)
        with torch.no_grad():
            oracle = istft(transform, torch.polar(magnitude, phase), length)
            unphased = griffin_lim(transform, magnitude, source.griffin_lim_iterations, length, gl_seeds)
        out.append({"oracle_phase": oracle.numpy(), "griffin_lim": unphased.numpy()})
    return out


def rebuilt_clips(source: Source, clips: np.ndarray, *, track_ids, window: int, kind: str, eps_values,
                  attack_params: dict, seed: int, truth: np.ndarray | None = None,
                  labels: np.ndarray | None = None, draw: int = 0) -> list[dict[str, np.ndarray]]:
    """Per eps of ``eps_values``, {path: (n_clips, length) audio}: whole clips tiled into
    ``window``-sized windows (``clips.tile``), each window perturbed and rebuilt
    (``rebuilt_windows``, keyed "track#tileJ", the waveform budget relative to its clip's
    RMS), put back end to end. ``truth`` / ``labels``: per clip."""
    length = clips.shape[1]
    windows = np.stack([tile(clip, window) for clip in clips])
    n, per_clip = windows.shape[:2]

    def per_window(values):
        return None if values is None else np.repeat(values, per_clip)
    rebuilt = rebuilt_windows(source, windows.reshape(n * per_clip, window),
                              clip_rms=per_window(np.maximum(np.sqrt(power(clips)), 1e-8)),
                              keys=[f"{track}#tile{j}" for track in track_ids for j in range(per_clip)],
                              truth=per_window(truth), labels=per_window(labels), kind=kind, eps_values=eps_values,
                              attack_params=attack_params, seed=seed, draw=draw)
    return [{path: np.stack([untile(w, length) for w in audio.reshape(n, per_clip, window)])
             for path, audio in at_eps.items()} for at_eps in rebuilt]
