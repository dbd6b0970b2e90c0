import pytest
import torch
from torch import nn

from crossrep.attacks import (
    AttackConfig,
    attack,
    attack_batch,
    attack_labels,
    attack_sweep,
    random_sign,
    row_seeds,
)

ATTACK = dict(label="truth", targeted=False, clip_to_range=False, batch_size=4, fgsm={"eps": 0.3},
              bim={"eps": 0.3, "step": 0.1, "iterations": 10}, pgd={"eps": 0.3, "step": 0.1, "iterations": 10})


def tiny_model(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 4)).eval()


def reference_fgsm(model, x, y, eps):
    """The textbook FGSM, one sample at a time."""
    out = []
    for xi, yi in zip(x, y, strict=True):
        xi = xi[None].clone().requires_grad_(True)
        nn.functional.cross_entropy(model(xi), yi[None]).backward()
        out.append((xi + eps * xi.grad.sign()).detach()[0])
    return torch.stack(out)


def reference_bim(model, x, y, eps, step, iterations):
    out = []
    for xi, yi in zip(x, y, strict=True):
        adv = xi[None].clone()
        for _ in range(iterations):
            adv.requires_grad_(True)
            nn.functional.cross_entropy(model(adv), yi[None]).backward()
            adv = adv.detach() + step * adv.grad.sign()
            adv = torch.min(torch.max(adv, xi[None] - eps), xi[None] + eps)
        out.append(adv[0])
    return torch.stack(out)


@pytest.fixture
def batch():
    torch.manual_seed(1)
    return torch.randn(6, 3, 4) * 5, torch.tensor([0, 1, 2, 3, 0, 1])


def test_fgsm_and_bim_match_plain_reference(batch):
    x, y = batch
    model = tiny_model()
    fgsm = attack(model, x, y, AttackConfig.from_params("fgsm", ATTACK))
    assert torch.allclose(fgsm, reference_fgsm(model, x, y, 0.3), atol=1e-6)
    bim = attack(model, x, y, AttackConfig.from_params("bim", ATTACK))
    assert torch.allclose(bim, reference_bim(model, x, y, 0.3, 0.1, 10), atol=1e-5)


@pytest.mark.parametrize("method", ["fgsm", "bim", "pgd"])
@pytest.mark.parametrize("clip_to_range", [False, True])
def test_sweep_equals_one_attack_per_eps(batch, method, clip_to_range):
    """The study's sweep (FGSM's gradient shared across eps) gives what one attack per eps gives."""
    x, y = batch
    params = dict(ATTACK, clip_to_range=clip_to_range)
    cfgs = [AttackConfig.from_params(method, params, eps=eps) for eps in (0.1, 0.3, 2.0)]
    seeds = row_seeds(0, range(6))
    swept = attack_sweep(tiny_model(), x, y, cfgs, seeds)
    assert len(swept) == 3
    for cfg, adv in zip(cfgs, swept, strict=True):
        assert torch.allclose(adv, attack(tiny_model(), x, y, cfg, seeds), atol=1e-6)
        assert (adv - x).abs().max() <= cfg.eps + 1e-6
    assert not torch.allclose(swept[0], swept[2])


@pytest.mark.parametrize("method", ["fgsm", "bim", "pgd"])
@pytest.mark.parametrize("targeted", [False, True])
def test_perturbation_stays_within_eps(batch, method, targeted):
    x, y = batch
    cfg = AttackConfig.from_params(method, dict(ATTACK, targeted=targeted))
    adv = attack(tiny_model(), x, y, cfg, row_seeds(0, range(6)))
    assert (adv - x).abs().max() <= 0.3 + 1e-6
    assert (adv - x).abs().max() > 0.29                          # it actually moved to the edge


def test_attacks_raise_the_loss_and_bim_beats_fgsm(batch):
    x, y = batch
    model = tiny_model()
    def loss(z):
        return nn.functional.cross_entropy(model(z), y).item()

    big = dict(ATTACK, fgsm={"eps": 2.0}, bim={"eps": 2.0, "step": 0.5, "iterations": 10})
    fgsm = attack(model, x, y, AttackConfig.from_params("fgsm", big))
    bim = attack(model, x, y, AttackConfig.from_params("bim", big))
    assert loss(x) < loss(fgsm) <= loss(bim) + 1e-6


def test_targeted_bim_reaches_its_target(batch):
    x, _ = batch
    model = tiny_model()
    targets = torch.tensor([3, 2, 1, 0, 2, 3])
    cfg = AttackConfig.from_params("bim", dict(ATTACK, targeted=True, bim={"eps": 10.0, "step": 1.0, "iterations": 40}))
    adv = attack(model, x, targets, cfg)
    assert torch.equal(model(adv).argmax(1), targets)


def test_pgd_random_start_is_seeded_per_row_and_clip_to_range_holds(batch):
    """The seeding rule: a row's start depends on the seed and its identity, not on its batch."""
    x, y = batch
    model = tiny_model()
    cfg = AttackConfig.from_params("pgd", dict(ATTACK, clip_to_range=True))
    keys = [f"t{i}#0" for i in range(6)]
    a = attack(model, x, y, cfg, row_seeds(5, keys))
    assert torch.equal(a, attack(model, x, y, cfg, row_seeds(5, keys)))
    assert not torch.equal(a, attack(model, x, y, cfg, row_seeds(6, keys)))
    halves = torch.cat([attack(model, x[:2], y[:2], cfg, row_seeds(5, keys[:2])),
                        attack(model, x[2:], y[2:], cfg, row_seeds(5, keys[2:]))])
    assert torch.allclose(a, halves, atol=1e-6)             # same rows, other batches: same result
    with pytest.raises(ValueError, match="seed"):
        attack(model, x, y, cfg)
    low, high = x.amin((1, 2), keepdim=True), x.amax((1, 2), keepdim=True)
    assert (a >= low - 1e-6).all() and (a <= high + 1e-6).all()


def test_label_sources(batch):
    x, y = batch
    model = tiny_model()
    predicted = attack_labels(model, x, y, "predicted", False, 4)
    assert torch.equal(predicted, model(x).argmax(1))
    assert torch.equal(attack_labels(model, x, y, "truth", True, 4), (y + 1) % 4)
    with pytest.raises(ValueError, match="predicted or truth"):
        attack_labels(model, x, y, "true", False, 4)


def test_noise_control_has_the_budget_and_fair_signs():
    """Random-sign noise: every element moves by exactly eps, signs +-1 with p = 1/2, per-row seeded."""
    x = torch.zeros(4, 64, 431)
    keys = [f"t{i}#0" for i in range(4)]
    noisy = random_sign(x, 0.3, row_seeds(0, keys))
    assert torch.allclose(noisy.abs(), torch.full_like(x, 0.3))
    share = (noisy > 0).float().mean((1, 2))
    assert ((share - 0.5).abs() < 4 * 0.5 / (64 * 431) ** 0.5).all()   # within 4 SD of a fair coin
    assert torch.equal(noisy[1:], random_sign(x[1:], 0.3, row_seeds(0, keys[1:])))
    assert not torch.equal(noisy[0], noisy[1])


def test_attack_batch_is_labels_attack_softmax(batch):
    x, y = batch
    model = tiny_model()
    cfg = AttackConfig.from_params("bim", ATTACK)
    adv, used, probs = attack_batch(model, x, cfg, keys=range(6), seed=0, n_classes=4, label_source="truth",
                                    truth=y)
    assert torch.equal(used, y) and torch.equal(adv, attack(model, x, y, cfg))
    assert torch.allclose(probs, torch.softmax(model(adv), 1)) and torch.allclose(probs.sum(1), torch.ones(6))
    target = torch.full((6,), 2)
    _, used, _ = attack_batch(model, x, cfg, keys=range(6), seed=0, n_classes=4, labels=target)
    assert torch.equal(used, target)


def test_sweep_step_scales_with_eps():
    cfg = AttackConfig.from_params("bim", ATTACK, eps=3.0)
    assert cfg.eps == 3.0 and cfg.step == pytest.approx(1.0) and cfg.iterations == 10
    assert AttackConfig.from_params("fgsm", ATTACK, eps=0.0).step == 0.0
