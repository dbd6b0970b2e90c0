"""FGSM, BIM and PGD on dB spectrograms, batched, untargeted or targeted.

All three are the same projected sign-gradient loop (Goodfellow et al. 2015; Kurakin et
al. 2016; Madry et al. 2018): FGSM is one step of size eps, BIM iterates ``step`` and
projects onto the L-infinity ball of radius eps around the clean input, PGD is BIM from a
uniformly random start in that ball. Perturbations are in the model's input units (dB
for the 2D CNNs, which normalise inside; the study's waveform source rescales samples so
that eps is relative to the clip's RMS).

Seeding rule (every source of attacks uses it): each row's random draws (PGD's start, the
noise control's signs) come from its own generator, seeded by ``row_seeds(seed, keys)``
from the row's identity (track and segment), so a row's perturbation does not depend on
the batch, shard or order it is processed in.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F

from . import ATTACK_METHODS as METHODS
from .shards import row_seeds  # noqa: F401  (re-exported: the seeding rule's home is shards)


@dataclass(frozen=True)
class AttackConfig:
    method: str
    eps: float
    step: float | None = None
    iterations: int = 1
    targeted: bool = False
    clip_to_range: bool = False

    @classmethod
    def from_params(cls, method: str, attack: dict, eps: float | None = None) -> AttackConfig:
        if method not in METHODS:
            raise ValueError(f"attack method {method!r} unknown; choose one of {METHODS}")
        if method == "fgsm":  # one step of eps: with eps given, attack.fgsm is not read
            eps = attack["fgsm"]["eps"] if eps is None else eps
            return cls(method, eps, eps, 1, attack["targeted"], attack["clip_to_range"])
        p = attack[method]
        eps = p["eps"] if eps is None else eps
        # the step scales with eps in a sweep so the iterations can still reach the ball's edge
        step = p["step"] * (eps / p["eps"]) if p["eps"] else p["step"]
        return cls(method, eps, step, p["iterations"], attack["targeted"], attack["clip_to_range"])


def row_uniform(like: torch.Tensor, seeds) -> torch.Tensor:
    """Uniform [0, 1) noise shaped like ``like``, row i drawn from a generator seeded by seeds[i]."""
    if len(seeds) != like.shape[0]:
        raise ValueError(f"{len(seeds)} row seeds for a batch of {like.shape[0]}")
    return torch.stack([torch.rand(like.shape[1:], generator=torch.Generator().manual_seed(s)) for s in seeds]
                       ).to(like.device, like.dtype)


def random_sign(clean: torch.Tensor, eps, seeds) -> torch.Tensor:
    """The noise control: ``clean`` + eps * (independent +-1 per element, each with p = 1/2),
    the same L-inf budget as FGSM with the gradient's sign replaced by a coin flip."""
    return clean + eps * torch.where(row_uniform(clean, seeds) < 0.5, -1.0, 1.0).to(clean.dtype)


def attack(model, clean: torch.Tensor, labels: torch.Tensor, cfg: AttackConfig, seeds=None) -> torch.Tensor:
    """Adversarial version of ``clean`` (batch, ...) with ||x_adv - clean||_inf <= eps.

    Untargeted: ascend the loss of ``labels``. Targeted: ``labels`` are the targets and
    the loss is descended. ``model`` should be in eval mode (BatchNorm statistics fixed).
    ``seeds``: one per row (``row_seeds``), for PGD's random start.
    """
    clean = clean.detach()
    adv = clean.clone()
    if cfg.method == "pgd":
        if seeds is None:
            raise ValueError("PGD's random start needs one seed per row (shards.row_seeds)")
        adv = clean + (2 * row_uniform(clean, seeds) - 1) * cfg.eps
    for _ in range(cfg.iterations):
        adv = _project(clean, adv + cfg.step * _gradient_sign(model, adv, labels, cfg.targeted), cfg.eps,
                       cfg.clip_to_range)
    return adv


def attack_sweep(model, clean: torch.Tensor, labels: torch.Tensor, cfgs: list[AttackConfig],
                 seeds=None) -> list[torch.Tensor]:
    """``attack`` of the same rows at every config of ``cfgs`` (one method, several eps):
    the same results, cheaper for FGSM, whose gradient does not depend on eps and is taken
    once for the whole sweep. The iterative attacks run eps by eps on the whole batch."""
    if len({(c.method, c.iterations, c.targeted, c.clip_to_range) for c in cfgs}) > 1:
        raise ValueError("attack_sweep runs one method at several eps; got " + ", ".join(map(str, cfgs)))
    if cfgs and cfgs[0].method == "fgsm":
        step = _gradient_sign(model, clean.detach(), labels, cfgs[0].targeted)
        return [_project(clean.detach(), clean + cfg.eps * step, cfg.eps, cfg.clip_to_range) for cfg in cfgs]
    return [attack(model, clean, labels, cfg, seeds) for cfg in cfgs]


def _gradient_sign(model, x: torch.Tensor, labels: torch.Tensor, targeted: bool) -> torch.Tensor:
    """sign(d loss / d x), negated for a targeted attack (whose loss is descended)."""
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(F.cross_entropy(model(x), labels, reduction="sum"), x)
    return -grad.sign() if targeted else grad.sign()


def _project(clean: torch.Tensor, adv: torch.Tensor, eps, clip_to_range: bool) -> torch.Tensor:
    """``adv`` back into the L-inf ball of radius ``eps`` around ``clean`` (and, with
    ``clip_to_range``, into each clean row's value range)."""
    adv = clean + torch.clamp(adv - clean, -eps, eps)
    if clip_to_range:
        dims = tuple(range(1, clean.dim()))
        adv = torch.maximum(torch.minimum(adv, clean.amax(dims, keepdim=True)), clean.amin(dims, keepdim=True))
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


def attack_batch(model, clean: torch.Tensor, cfg: AttackConfig, *, keys, seed: int, n_classes: int,
                 label_source: str = "predicted", truth: torch.Tensor | None = None,
                 labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Labels -> attack -> softmax for one batch: (x_adv, the labels attacked, softmax on x_adv).

    ``labels`` (e.g. a chosen target) override ``label_source`` (predicted | truth, targets
    label + 1 when ``cfg.targeted``). ``keys``: each row's identity for the seeding rule.
    """
    if labels is None:
        labels = attack_labels(model, clean, truth, label_source, cfg.targeted, n_classes)
    adv = attack(model, clean, labels, cfg, row_seeds(seed, keys))
    with torch.no_grad():
        probs = torch.softmax(model(adv), 1)
    return adv, labels, probs
