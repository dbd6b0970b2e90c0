"""FGSM, BIM and PGD on dB spectrograms, batched, untargeted or targeted.

All three are the same projected sign-gradient loop (Goodfellow et al. 2015; Kurakin et
al. 2016; Madry et al. 2018): FGSM is one step of size eps, BIM iterates ``step`` and
projects onto the L-infinity ball of radius eps around the clean input, PGD is BIM from a
uniformly random start in that ball. Perturbations are in dB (the model normalises inside).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F

from . import ATTACK_METHODS as METHODS


@dataclass(frozen=True)
class AttackConfig:
    method: str
    eps: float
    step: float | None = None
    iterations: int = 1
    targeted: bool = False
    clip_to_range: bool = False

    @classmethod
    def from_params(cls, method: str, attack: dict, eps: float | None = None) -> "AttackConfig":
        if method not in METHODS:
            raise ValueError(f"attack method {method!r} unknown; choose one of {METHODS}")
        p = attack[method]
        eps = p["eps"] if eps is None else eps
        if method == "fgsm":
            return cls(method, eps, eps, 1, attack["targeted"], attack["clip_to_range"])
        # the step scales with eps in a sweep so the iterations can still reach the ball's edge
        step = p["step"] * (eps / p["eps"]) if p["eps"] else p["step"]
        return cls(method, eps, step, p["iterations"], attack["targeted"], attack["clip_to_range"])


def attack(model, clean: torch.Tensor, labels: torch.Tensor, cfg: AttackConfig,
           generator: torch.Generator | None = None) -> torch.Tensor:
    """Adversarial version of ``clean`` (batch, ...) with ||x_adv - clean||_inf <= eps.

    Untargeted: ascend the loss of ``labels``. Targeted: ``labels`` are the targets and
    the loss is descended. ``model`` should be in eval mode (BatchNorm statistics fixed).
    """
    clean = clean.detach()
    if cfg.clip_to_range:
        dims = tuple(range(1, clean.dim()))
        low, high = clean.amin(dims, keepdim=True), clean.amax(dims, keepdim=True)
    adv = clean.clone()
    if cfg.method == "pgd":
        noise = torch.rand(clean.shape, generator=generator, device=clean.device)
        adv = clean + (2 * noise - 1) * cfg.eps
    sign = -1.0 if cfg.targeted else 1.0
    for _ in range(cfg.iterations):
        adv.requires_grad_(True)
        loss = F.cross_entropy(model(adv), labels, reduction="sum")
        (grad,) = torch.autograd.grad(loss, adv)
        adv = adv.detach() + sign * cfg.step * grad.sign()
        adv = clean + torch.clamp(adv - clean, -cfg.eps, cfg.eps)
        if cfg.clip_to_range:
            adv = torch.maximum(torch.minimum(adv, high), low)
    return adv.detach()


def attack_labels(model, clean: torch.Tensor, true_labels: torch.Tensor, source: str, targeted: bool,
                  n_classes: int) -> torch.Tensor:
    """The labels the attack uses: true or predicted (the authors' code); targets are label + 1."""
    if source == "predicted":
        with torch.no_grad():
            labels = model(clean).argmax(1)
    elif source == "truth":
        labels = true_labels
    else:
        raise ValueError(f"attack.label {source!r}: choose predicted or truth")
    return (labels + 1) % n_classes if targeted else labels
