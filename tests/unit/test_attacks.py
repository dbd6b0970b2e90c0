import pytest
import torch
from torch import nn

from crossrep.attacks import (
    AttackConfig,
    Diversity,
    Ensemble,
    attack,
    attack_batch,
    attack_labels,
    attack_sweep,
    half_toward_zero,
    random_sign,
    row_seeds,
)

ITERATIVE = {"eps": 0.3, "step": 0.1, "iterations": 10}
OFF = dict(probability=1.0, shift=0.0, gain_db=0.0, time_mask=0.0, freq_mask=0.0, stretch=0.0)
ATTACK = dict(label="truth", targeted=False, clip_to_range=False, batch_size=4, fgsm={"eps": 0.3},
              bim=ITERATIVE, pgd=ITERATIVE, di_fgsm=ITERATIVE, mi_fgsm=dict(ITERATIVE, momentum=1.0),
              di_mi_fgsm=dict(ITERATIVE, momentum=1.0), diversity=dict(OFF, probability=0.5, shift=0.1, gain_db=3.0,
                                                                          time_mask=0.1, freq_mask=0.1, stretch=0.1))


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


@pytest.mark.parametrize("clip_to_range", [False, True])
def test_attack_batch_is_labels_attack_float16_perturbation_softmax(batch, clip_to_range):
    """x_adv is clean + the attack's perturbation rounded toward zero to float16: exactly
    (what a shard stores gives back the x_adv scored), within one float16 step of the attack
    (2.4e-4 at 0.3), never past eps nor past the clean range."""
    x, y = batch
    model = tiny_model()
    cfg = AttackConfig.from_params("bim", dict(ATTACK, clip_to_range=clip_to_range))
    adv, perturbation, used, probs = attack_batch(model, x, cfg, keys=range(6), seed=0, n_classes=4,
                                                  label_source="truth", truth=y)
    exact = attack(model, x, y, cfg)
    assert perturbation.dtype == torch.float16 and torch.equal(adv, x + perturbation.float())
    assert torch.equal(used, y) and (adv - exact).abs().max() <= 2.5e-4 and not torch.equal(adv, exact)
    assert (perturbation.float().abs() <= (exact - x).abs()).all() and (adv - x).abs().max() <= 0.3
    if clip_to_range:
        assert ((adv >= x.amin((1, 2), keepdim=True)) & (adv <= x.amax((1, 2), keepdim=True))).all()
    assert torch.allclose(probs, torch.softmax(model(adv), 1)) and torch.allclose(probs.sum(1), torch.ones(6))
    target = torch.full((6,), 2)
    _, _, used, _ = attack_batch(model, x, cfg, keys=range(6), seed=0, n_classes=4, labels=target)
    assert torch.equal(used, target)


def test_half_toward_zero_never_rounds_away_from_zero():
    delta = torch.tensor([0.3, -0.3, 1e-3, -1e-3, 0.0, 65504.0, 1e-8, -0.30000001])
    half = half_toward_zero(delta)
    assert half.dtype == torch.float16 and (half.float().abs() <= delta.abs()).all()
    # and it is the nearest float16 on the zero side: the next one out is past delta
    out = (half.view(torch.int16) + torch.where(half == 0, 0, 1).to(torch.int16)).view(torch.float16)
    assert ((out.float().abs() > delta.abs()) | (half == 0)).all()
    assert half[0].item() == pytest.approx(0.3, abs=2.5e-4) and half[4].item() == 0.0


def test_sweep_step_scales_with_eps():
    cfg = AttackConfig.from_params("bim", ATTACK, eps=3.0)
    assert cfg.eps == 3.0 and cfg.step == pytest.approx(1.0) and cfg.iterations == 10
    assert AttackConfig.from_params("fgsm", ATTACK, eps=0.0).step == 0.0


def reference_mi_fgsm(model, x, y, eps, step, iterations, momentum):
    """MI-FGSM as Dong et al. (2018) write it, one sample at a time: g <- mu g + grad / |grad|_1."""
    out = []
    for xi, yi in zip(x, y, strict=True):
        adv, g = xi[None].clone(), torch.zeros_like(xi[None])
        for _ in range(iterations):
            adv.requires_grad_(True)
            nn.functional.cross_entropy(model(adv), yi[None]).backward()
            g = momentum * g + adv.grad / adv.grad.abs().sum()
            adv = adv.detach() + step * g.sign()
            adv = torch.min(torch.max(adv, xi[None] - eps), xi[None] + eps)
        out.append(adv[0])
    return torch.stack(out)


def waveform_model(seed=0):
    """A tiny model on 64-sample waveforms (the DI transforms of a 1D input)."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Unflatten(1, (1, 64)), nn.Conv1d(1, 4, 9), nn.ReLU(), nn.Flatten(),
                         nn.Linear(4 * 56, 4)).eval()


def test_mi_fgsm_is_the_papers_update_and_bim_without_momentum(batch):
    x, y = batch
    model = tiny_model()
    mi = attack(model, x, y, AttackConfig.from_params("mi_fgsm", ATTACK))
    assert torch.allclose(mi, reference_mi_fgsm(model, x, y, 0.3, 0.1, 10, 1.0), atol=1e-5)
    bim = attack(model, x, y, AttackConfig.from_params("bim", ATTACK))
    no_momentum = dict(ATTACK, mi_fgsm=dict(ITERATIVE, momentum=0.0))
    assert torch.equal(attack(model, x, y, AttackConfig.from_params("mi_fgsm", no_momentum)), bim)
    assert not torch.equal(mi, bim)


@pytest.mark.parametrize("rows", ["spectrogram", "waveform"])
def test_diversity_with_every_transform_off_is_the_plain_attack(batch, rows):
    x, y = batch
    model = tiny_model()
    if rows == "waveform":
        x, model = torch.randn(6, 64), waveform_model()
    seeds = row_seeds(0, [f"t{i}#0" for i in range(6)])
    off = dict(ATTACK, diversity=OFF)
    for diverse, plain in (("di_fgsm", "bim"), ("di_mi_fgsm", "mi_fgsm")):
        expected = attack(model, x, y, AttackConfig.from_params(plain, ATTACK))
        assert torch.equal(attack(model, x, y, AttackConfig.from_params(diverse, off), seeds), expected)
        never = dict(ATTACK, diversity=dict(ATTACK["diversity"], probability=0.0))
        assert torch.equal(attack(model, x, y, AttackConfig.from_params(diverse, never), seeds), expected)
        diverse_adv = attack(model, x, y, AttackConfig.from_params(diverse, ATTACK), seeds)
        assert not torch.equal(diverse_adv, expected)
        assert (diverse_adv - x).abs().max() <= 0.3 + 1e-6


def test_diversity_is_seeded_per_row(batch):
    x, y = batch
    model = tiny_model()
    cfg = AttackConfig.from_params("di_mi_fgsm", ATTACK)
    keys = [f"t{i}#0" for i in range(6)]
    a = attack(model, x, y, cfg, row_seeds(5, keys))
    halves = torch.cat([attack(model, x[:3], y[:3], cfg, row_seeds(5, keys[:3])),
                        attack(model, x[3:], y[3:], cfg, row_seeds(5, keys[3:]))])
    assert torch.allclose(a, halves, atol=1e-6)
    assert not torch.equal(a, attack(model, x, y, cfg, row_seeds(6, keys)))
    with pytest.raises(ValueError, match="seed"):
        attack(model, x, y, cfg)


def one_transform(**on) -> Diversity:
    return Diversity(**{**OFF, **on})


def test_each_diversity_transform_does_what_it_says():
    g = lambda: [torch.Generator().manual_seed(3)]  # noqa: E731
    spec = torch.arange(40.0).reshape(1, 4, 10) - 100   # dB: min -100
    wave = torch.linspace(-1, 1, 50)[None]
    shifted = one_transform(shift=0.3).apply(spec, g())[0]
    assert any(torch.equal(shifted, torch.roll(spec[0], k, -1)) for k in range(-3, 4))
    gained = one_transform(gain_db=3.0).apply(spec, g())[0] - spec[0]
    assert torch.allclose(gained, gained[0, 0].expand_as(gained)) and 0 < gained.abs()[0, 0] <= 3
    ratio = one_transform(gain_db=3.0).apply(wave, g())[0] / wave[0]
    assert torch.allclose(ratio, ratio[0].expand_as(ratio)) and abs(20 * torch.log10(ratio[0])) <= 3
    masked = one_transform(time_mask=0.5, freq_mask=0.5).apply(spec, g())[0]
    floor = masked == spec.min()
    assert floor.any() and torch.equal(masked[~floor], spec[0][~floor])   # masked bands hold the row's minimum
    assert (one_transform(time_mask=0.5).apply(wave, g())[0] == 0).sum() >= 1
    stretched = one_transform(stretch=0.2).apply(wave, g())[0]
    assert stretched.shape == wave[0].shape and not torch.equal(stretched, wave[0])
    x = spec.clone().requires_grad_(True)   # every transform passes the gradient back to the input
    Diversity(probability=1.0, stretch=0.2).apply(x, g()).sum().backward()
    assert x.grad.abs().sum() > 0


@pytest.mark.parametrize("method", ["fgsm", "bim", "mi_fgsm"])
def test_an_ensemble_of_one_is_that_models_attack_and_of_two_averages_losses(batch, method):
    x, y = batch
    model, other = tiny_model(0), tiny_model(1)
    cfg = AttackConfig.from_params(method, ATTACK)
    assert torch.equal(attack(Ensemble([model]), x, y, cfg), attack(model, x, y, cfg))
    pair = Ensemble([model, other])
    xg = x.clone().requires_grad_(True)
    mean_loss = (nn.functional.cross_entropy(model(xg), y, reduction="sum")
                 + nn.functional.cross_entropy(other(xg), y, reduction="sum")) / 2
    mean_loss.backward()
    if method == "fgsm":
        assert torch.equal(attack(pair, x, y, cfg), x + 0.3 * xg.grad.sign())
    probs = (torch.softmax(model(x), 1) + torch.softmax(other(x), 1)) / 2
    assert torch.allclose(pair(x).exp(), probs, atol=1e-6)
