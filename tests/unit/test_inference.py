"""The study's paired inference and controls on hand-made outcomes and real signals."""
import math

import numpy as np
import pytest
import torch

from conftest import train_tiny
from crossrep import metrics, models, synthetic
from crossrep.features import Spectrogram, SpectrogramConfig
from crossrep.study.controls import null_seeds, spectrum_matched
from crossrep.study.stats import mcnemar_exact, paired_difference


def test_bootstrap_interval_covers_a_known_difference():
    """Clips whose attack outcome is right with p 0.5 and control outcome with p 0.7: the
    true difference is 20 points, and 95 % intervals from independent samples cover it
    about 95 % of the time (here: in at least 85 of 100 samples, a loose binomial bound)."""
    rng = np.random.default_rng(1)
    covered, widths = 0, []
    for _ in range(100):
        folds = np.repeat([1, 2, 3], 80)
        control = rng.random(240) < 0.7
        attack = rng.random(240) < 0.5
        d = paired_difference(folds, control, np.ones(240), attack, np.ones(240), resamples=2000, seed=7)
        covered += d.low <= 20.0 <= d.high
        widths.append(d.high - d.low)
    assert covered >= 85
    # the normal approximation's half-width for independent outcomes: 1.96 sqrt(p q / n) each
    expected = 2 * 1.96 * 100 * math.sqrt((0.7 * 0.3 + 0.5 * 0.5) / 240)
    assert np.mean(widths) == pytest.approx(expected, rel=0.1)


def test_bootstrap_is_paired_stratified_seeded_and_skips_empty_clips():
    folds = np.array([1, 1, 1, 2, 2, 2])
    right_a, right_b = np.array([1, 0, 1, 1, 1, 0]), np.array([1, 0, 1, 1, 1, 0])
    same = paired_difference(folds, right_a, np.ones(6), right_b, np.ones(6))
    assert same.estimate == 0 and same.low == 0 and same.high == 0   # paired: identical outcomes never differ
    a = paired_difference(folds, right_a, np.ones(6), 1 - right_b, np.ones(6), seed=3)
    assert a == paired_difference(folds, right_a, np.ones(6), 1 - right_b, np.ones(6), seed=3)
    assert a.estimate == pytest.approx(100 * (4 / 6 - 2 / 6))
    # a ratio: a clip with no segment on one side is left out; 2 segments weigh twice one
    d = paired_difference(folds, [2, 0, 1, 1, 1, 0], [2, 0, 1, 1, 1, 1], [0, 0, 1, 1, 1, 0], [2, 1, 1, 1, 1, 1])
    assert d.clips == 5 and d.estimate == pytest.approx(100 * (5 / 6 - 3 / 6))


def test_mcnemar_p_is_the_exact_binomial():
    for b, c in ((3, 0), (6, 0), (7, 2), (10, 10), (1, 12)):
        n, k = b + c, min(b, c)
        exact = min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n)
        assert mcnemar_exact(b, c) == pytest.approx(exact, rel=1e-12)
    assert mcnemar_exact(3, 0) == pytest.approx(0.25) and mcnemar_exact(6, 0) < 0.05 < mcnemar_exact(5, 0)
    assert mcnemar_exact(0, 0) == 1.0


def test_spectrum_matched_null_keeps_the_true_snr_and_the_envelope():
    """On a real music clip and a structured perturbation (a gated 1.2 kHz tone plus
    low-passed noise): the null's true SNR equals the perturbation's to 0.01 dB. Its |STFT|
    is not the perturbation's bin for bin (no signal has a random-phase STFT exactly, and a
    tone's leakage bins fill in): measured here, over the time-frequency bins within 30 dB of
    the peak the median |difference| is 2.9 dB, and the spectral envelope (energy per
    frequency bin, summed over frames) stays within 2.5 dB over the bins within 20 dB of
    its peak. The test allows 4 dB and 3 dB; a white noise of the same power is further off
    on both (its envelope by more than 10 dB)."""
    sr = 22050
    clip = synthetic.generate_track("jazz", 0, 5, 5.0, sr).astype(np.float32)
    rng = np.random.default_rng(0)
    t = np.arange(len(clip)) / sr
    burst = (np.sin(2 * np.pi * 1200 * t) * (np.abs(np.sin(2 * np.pi * 0.5 * t)) > 0.7)
             + 0.3 * np.convolve(rng.standard_normal(len(clip)), np.ones(8) / 8, "same")).astype(np.float32)
    delta = 0.05 * burst * np.sqrt(np.mean(clip ** 2) / np.mean(burst ** 2))
    transform = Spectrogram(SpectrogramConfig())
    seeds = null_seeds(1, ["jazz/0"], "fgsm", 1.0, "clean_phase")
    null = spectrum_matched(delta[None], transform, seeds)[0].astype(np.float32)
    assert metrics.snr_db(clip, clip + null) == pytest.approx(metrics.snr_db(clip, clip + delta), abs=0.01)

    def db(x):
        return 20 * np.log10(transform.stft(torch.as_tensor(x[None])).abs()[0].numpy() + 1e-12)

    def envelope(x):
        return 10 * np.log10((10 ** (db(x) / 10)).sum(-1))

    white = rng.standard_normal(len(clip)).astype(np.float32) * np.sqrt(np.mean(delta ** 2))
    reference, tf_loud = db(delta), db(delta) > db(delta).max() - 30
    band = envelope(delta) > envelope(delta).max() - 20
    def errors(other):
        return (np.median(np.abs(db(other) - reference)[tf_loud]),
                np.abs(envelope(other) - envelope(delta))[band].max())
    (tf_null, band_null), (tf_white, band_white) = errors(null), errors(white)
    assert tf_null < 4.0 and band_null < 3.0
    assert band_white > 10.0 and tf_white > tf_null
    assert not np.allclose(null, delta, atol=1e-4)                    # the structure is gone
    assert np.array_equal(spectrum_matched(delta[None], transform, seeds)[0].astype(np.float32), null)  # by identity
    assert not spectrum_matched(np.zeros((1, 4096), np.float32), transform, [0]).any()


def test_random_init_source_is_untrained_and_seeded(tiny_data, tmp_path):
    path, _ = train_tiny(tiny_data, "cnn2d_mel", tmp_path, epochs=1)
    _, ckpt = models.load_checkpoint(path)
    a, b = models.untrained_like(ckpt, seed=5), models.untrained_like(ckpt, seed=5)
    other = models.untrained_like(ckpt, seed=6)
    sa, sb, so = a.state_dict(), b.state_dict(), other.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)                         # same seed: same weights
    learned = [k for k in sa if k.endswith("weight") and sa[k].dim() > 1]     # convolutions and dense layers
    assert learned and all(not torch.equal(sa[k], ckpt["state_dict"][k]) for k in learned)
    assert any(not torch.equal(sa[k], so[k]) for k in learned)
    assert torch.equal(sa["norm.mean"], ckpt["state_dict"]["norm.mean"])     # eps means the same on both
    assert not a.training
