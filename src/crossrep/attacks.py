"""FGSM, BIM, PGD and the transfer-oriented MI-FGSM and DI-FGSM, batched, on dB
spectrograms or waveforms, untargeted or targeted.

All are the same projected sign-gradient loop (Goodfellow et al. 2015; Kurakin et al.
2016; Madry et al. 2018): FGSM is one step of size eps, BIM iterates ``step`` and projects
onto the L-infinity ball of radius eps around the clean input, PGD is BIM from a uniformly
random start in that ball. The two built to transfer change what the sign is taken of:
MI-FGSM (Dong et al. 2018) of a running sum of each row's L1-normalised gradients (decay
``momentum``); DI-FGSM (Xie et al. 2019) of the gradient at a randomly transformed input
(``Diversity``: time shift, gain, time and frequency masks, stretch, made for audio);
DI-MI-FGSM does both. Perturbations are in the model's input units (dB for the 2D CNNs,
which normalise inside; the study's waveform source rescales samples so that eps is
relative to the clip's RMS).

Seeding rule (every source of attacks uses it): each row's random draws (PGD's start,
DI's transforms, the noise control's signs) come from its own generator, seeded by
``row_seeds(seed, keys)`` from the row's identity (track and segment), so a row's
perturbation does not depend on the batch, shard or order it is processed in.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from . import ATTACK_METHODS as METHODS
from . import DIVERSE_METHODS, MOMENTUM_METHODS
from .shards import row_seeds  # noqa: F401  (re-exported: the seeding rule's home is shards)


@dataclass(frozen=True)
class Diversity:
    """DI's input transforms, made for audio (params.yaml ``attack.diversity``). At every
    iteration each row is transformed with chance ``probability``; a transformed row is, in
    this order, stretched by a factor in 1 +- ``stretch`` (linear resampling along time, then
    cropped or padded to its length), shifted circularly in time by up to ``shift`` of its
    length, masked over one band of up to ``time_mask`` of its frames or samples and (a
    spectrogram) one band of up to ``freq_mask`` of its bins (SpecAugment; a masked band
    holds the row's minimum dB, or silence), and given a gain in +- ``gain_db``. A value of 0
    turns its transform off. The defaults are the documented params.yaml values."""
    probability: float = 0.5
    shift: float = 0.1
    gain_db: float = 3.0
    time_mask: float = 0.1
    freq_mask: float = 0.1
    stretch: float = 0.0

    def apply(self, x: torch.Tensor, generators) -> torch.Tensor:
        """``x`` (batch, samples) or (batch, bins, frames) with each row transformed or not,
        drawn from its own generator; differentiable in ``x``."""
        rows = [self._transform(row, g) if _uniform(g) < self.probability else row
                for row, g in zip(x, generators, strict=True)]
        return torch.stack(rows)

    def _transform(self, row: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        spectrogram = row.dim() == 2
        floor = row.detach().min() if spectrogram else row.new_zeros(())
        n = row.shape[-1]
        if self.stretch:
            length = max(1, round(n * (1 + self.stretch * (2 * _uniform(g) - 1))))
            shape = row[None] if spectrogram else row[None, None]
            stretched = F.interpolate(shape, size=length, mode="linear", align_corners=False)[0]
            stretched = stretched if spectrogram else stretched[0]
            row = stretched[..., :n] if length >= n else F.pad(stretched, (0, n - length), value=float(floor))
        if self.shift:
            reach = round(self.shift * n)
            row = torch.roll(row, _integer(g, -reach, reach), dims=-1)
        for axis, fraction in ((-1, self.time_mask), (0, self.freq_mask if spectrogram else 0.0)):
            if fraction:
                size = row.shape[axis]
                width = _integer(g, 0, round(fraction * size))
                start = _integer(g, 0, size - width)
                band = torch.zeros(size, dtype=torch.bool, device=row.device)
                band[start:start + width] = True
                row = torch.where(band if axis == -1 else band[:, None], floor, row)
        if self.gain_db:
            gain = self.gain_db * (2 * _uniform(g) - 1)
            row = row + gain if spectrogram else row * 10 ** (gain / 20)
        return row


def _uniform(g: torch.Generator) -> float:
    return float(torch.rand((), generator=g))


def _integer(g: torch.Generator, low: int, high: int) -> int:
    """Uniform over low..high inclusive."""
    return int(torch.randint(low, high + 1, (), generator=g))


@dataclass(frozen=True)
class AttackConfig:
    method: str
    eps: float
    step: float | None = None
    iterations: int = 1
    targeted: bool = False
    clip_to_range: bool = False
    momentum: float | None = None      # MI: decay of the running gradient sum (None: no momentum)
    diversity: Diversity | None = None  # DI: the input transforms (None: the input as it is)

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
        return cls(method, eps, step, p["iterations"], attack["targeted"], attack["clip_to_range"],
                   momentum=p["momentum"] if method in MOMENTUM_METHODS else None,
                   diversity=Diversity(**attack["diversity"]) if method in DIVERSE_METHODS else None)


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
    if (cfg.method == "pgd" or cfg.diversity) and seeds is None:
        raise ValueError(f"{cfg.method}'s random draws need one seed per row (shards.row_seeds)")
    if cfg.method == "pgd":
        adv = clean + (2 * row_uniform(clean, seeds) - 1) * cfg.eps
    transform = None
    if cfg.diversity:  # its own generators: DI's draws never coincide with PGD's or the noise's
        generators = [torch.Generator().manual_seed(int(np.uint64(s) ^ DIVERSITY_STREAM)) for s in seeds]
        transform = lambda x: cfg.diversity.apply(x, generators)  # noqa: E731
    velocity = 0.0
    for _ in range(cfg.iterations):
        grad = _gradient(model, adv, labels, cfg.targeted, transform)
        if cfg.momentum is not None:
            dims = tuple(range(1, grad.dim()))
            velocity = cfg.momentum * velocity + grad / grad.abs().sum(dims, keepdim=True).clamp_min(1e-30)
            grad = velocity
        adv = _project(clean, adv + cfg.step * grad.sign(), cfg.eps, cfg.clip_to_range)
    return adv


DIVERSITY_STREAM = 0x5D1  # mixed into a row's seed for DI's transforms


def attack_sweep(model, clean: torch.Tensor, labels: torch.Tensor, cfgs: list[AttackConfig],
                 seeds=None) -> list[torch.Tensor]:
    """``attack`` of the same rows at every config of ``cfgs`` (one method, several eps):
    the same results, cheaper for FGSM, whose gradient does not depend on eps and is taken
    once for the whole sweep. The iterative attacks run eps by eps on the whole batch."""
    if len({(c.method, c.iterations, c.targeted, c.clip_to_range) for c in cfgs}) > 1:
        raise ValueError("attack_sweep runs one method at several eps; got " + ", ".join(map(str, cfgs)))
    if cfgs and cfgs[0].method == "fgsm":
        step = _gradient(model, clean.detach(), labels, cfgs[0].targeted).sign()
        return [_project(clean.detach(), clean + cfg.eps * step, cfg.eps, cfg.clip_to_range) for cfg in cfgs]
    return [attack(model, clean, labels, cfg, seeds) for cfg in cfgs]


class Ensemble(torch.nn.Module):
    """Several models attacked as one source through the same input: the attack's loss is the
    mean of the members' losses; the ensemble's prediction (its labels, its softmax) is the
    argmax of the members' mean softmax, returned as log-probabilities. One member is that
    member, unchanged."""

    def __init__(self, members):
        super().__init__()
        self.members = torch.nn.ModuleList(members)

    def forward(self, x):
        if len(self.members) == 1:
            return self.members[0](x)
        return torch.stack([torch.softmax(m(x), 1) for m in self.members]).mean(0).log()

    def loss(self, x, labels) -> torch.Tensor:
        return sum(F.cross_entropy(m(x), labels, reduction="sum") for m in self.members) / len(self.members)


def _gradient(model, x: torch.Tensor, labels: torch.Tensor, targeted: bool, transform=None) -> torch.Tensor:
    """d loss / d x, negated for a targeted attack (whose loss is descended); with
    ``transform``, the loss is the model's on ``transform(x)``; an ``Ensemble``'s loss is
    its members' mean."""
    x = x.detach().requires_grad_(True)
    seen = x if transform is None else transform(x)
    if isinstance(model, Ensemble):
        loss = model.loss(seen, labels)
    else:
        loss = F.cross_entropy(model(seen), labels, reduction="sum")
    (grad,) = torch.autograd.grad(loss, x)
    return -grad if targeted else grad


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
                 labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Labels -> attack -> softmax for one batch: (x_adv, its perturbation x_adv - clean in
    float16 (:func:`half_toward_zero`; x_adv is clean + it, exactly), the labels attacked,
    softmax on x_adv).

    ``labels`` (e.g. a chosen target) override ``label_source`` (predicted | truth, targets
    label + 1 when ``cfg.targeted``). ``keys``: each row's identity for the seeding rule.
    """
    if labels is None:
        labels = attack_labels(model, clean, truth, label_source, cfg.targeted, n_classes)
    perturbation = half_toward_zero(attack(model, clean, labels, cfg, row_seeds(seed, keys)) - clean)
    adv = clean + perturbation.float()
    with torch.no_grad():
        probs = torch.softmax(model(adv), 1)
    return adv, perturbation, labels, probs


def half_toward_zero(delta: torch.Tensor) -> torch.Tensor:
    """``delta`` in float16, rounded toward zero (so |result| <= |delta|: never past eps nor
    past the clean range). The pipeline's adversarial shards store a perturbation so, and
    every later step reads clean + it: an attack's sign steps land on a few float16 values,
    which compress to almost nothing, where the float32 spectrogram would not compress at all;
    what moves is at most one float16 step of the perturbation (2.4e-4 dB at 0.3 dB)."""
    half = delta.to(torch.float16)
    past = half.float().abs() > delta.abs()
    # float16 is sign-magnitude: one less in its bits is one step toward zero, either sign
    return torch.where(past, (half.view(torch.int16) - 1).view(torch.float16), half)
