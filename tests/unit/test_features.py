import json

import h5py
import librosa
import numpy as np
import pytest
import torch

from crossrep import synthetic
from crossrep.features import Spectrogram, SpectrogramConfig, periodic_window
from crossrep.reconstruction import griffin_lim, invert, mel_to_magnitude, spectral_convergence
from crossrep.shards import ShardError, open_shard, read_strings, write_shard
from crossrep.steps import spectrograms

SR = 22050
CFG = SpectrogramConfig()


@pytest.fixture(scope="module")
def segments():
    """Three real 5 s segments of synthetic music."""
    return np.stack([synthetic.generate_track(g, 0, 11, 5.0, SR) for g in ("rock", "classical", "hiphop")])


def _rel(a, b):
    return np.abs(a - b).max() / np.abs(b).max()


def test_shapes_match_the_paper(segments):
    spec = Spectrogram(CFG)
    assert spec.db("stft", segments).shape == (3, 257, 431)
    assert spec.db("mel", segments).shape == (3, 64, 431)


def test_stft_and_mel_equal_librosa(segments):
    spec = Spectrogram(CFG)
    stft_db, mel_db = spec.db("stft", segments), spec.db("mel", segments)
    for i, y in enumerate(segments):
        ref = np.abs(librosa.stft(y, n_fft=512, hop_length=256, window="hann", center=True))
        assert _rel(10 ** (stft_db[i] / 20), np.maximum(ref, CFG.amin)) < 1e-4
        ref_db = librosa.amplitude_to_db(ref, ref=1.0, amin=CFG.amin, top_db=None)
        loud = ref > 1e-3 * ref.max()                      # within 60 dB of the peak
        assert np.abs(stft_db[i] - ref_db)[loud].max() < 1e-3
        assert np.abs(stft_db[i] - ref_db).max() < 0.1         # float32 rounding in near-empty bins
        mel = librosa.feature.melspectrogram(y=y, sr=SR, n_fft=512, hop_length=256, n_mels=64,
                                             fmax=CFG.fmax, power=1.0)
        assert _rel(10 ** (mel_db[i] / 20), np.maximum(mel, CFG.amin)) < 1e-4


def test_stft_round_trip_with_own_phase_exceeds_90_db(segments):
    spec = Spectrogram(CFG)
    reference = spec.reference("stft", segments)
    rebuilt = invert(spec, "stft", spec.db("stft", segments), segments.shape[1], reference=reference)
    noise = rebuilt - segments
    snr = 10 * np.log10((segments ** 2).sum(1) / (noise ** 2).sum(1))
    assert rebuilt.shape == segments.shape
    assert snr.min() > 90, snr


def test_mel_inversion_and_griffin_lim(segments):
    spec = Spectrogram(CFG)
    mag = spec.stft(segments).abs()
    mel = spec.mel_basis @ mag
    np.testing.assert_allclose(spec.magnitude("mel", segments), mel.numpy(), rtol=1e-4, atol=1e-6)
    recovered = mel_to_magnitude(spec, mel)
    assert recovered.min() >= 0
    assert spectral_convergence(mel.numpy(), (spec.mel_basis @ recovered).numpy()).max() < 0.05
    few = griffin_lim(spec, mag, 2, segments.shape[1], seed=0)
    many = griffin_lim(spec, mag, 40, segments.shape[1], seed=0)
    sc_few = spectral_convergence(mag.numpy(), spec.stft(few).abs().numpy())
    sc_many = spectral_convergence(mag.numpy(), spec.stft(many).abs().numpy())
    assert (sc_many < sc_few).all() and sc_many.max() < 0.35
    again = griffin_lim(spec, mag, 40, segments.shape[1], seed=0)
    assert np.array_equal(many.numpy(), again.numpy())          # seeded initial phase


def test_spectrogram_shard_from_segment_shard(tmp_path, segments):
    seg_path = tmp_path / "segments.h5"
    with write_shard(seg_path, fold=2, genres=json.dumps(["a", "b"])) as shard:
        shard.append(audio=segments, track_id=["a/x", "a/x", "b/y"], segment=np.array([0, 1, 0], np.int32),
                     label=np.array([0, 0, 1], np.int16))
    out = tmp_path / "mel.h5"
    spectrogram = {k: v for k, v in CFG.__dict__.items() if k != "sample_rate"}
    params = {"audio": {"sample_rate": CFG.sample_rate}, "spectrogram": dict(spectrogram, batch_size=2)}
    spectrograms.run(segments=seg_path, out=out, representation="mel", params=params)
    with open_shard(out, "spec") as h5:
        assert h5["spec"].shape == (3, 64, 431) and h5["spec"].chunks == (1, 64, 431)
        assert list(read_strings(h5["track_id"])) == ["a/x", "a/x", "b/y"]
        assert h5.attrs["fold"] == 2 and h5.attrs["representation"] == "mel"
        np.testing.assert_allclose(h5["spec"][2], Spectrogram(CFG).db("mel", segments[2:3])[0], atol=1e-4)


def test_interrupted_shard_is_never_accepted(tmp_path):
    path = tmp_path / "x.h5"
    with pytest.raises(RuntimeError):
        with write_shard(path) as shard:
            shard.append(audio=np.zeros((2, 8)))
            raise RuntimeError("killed")
    assert not path.exists() and not list(tmp_path.iterdir())   # temp file removed too
    with h5py.File(path, "w") as h5:                            # a file without the completion mark
        h5["audio"] = np.zeros((2, 8))
    with pytest.raises(ShardError, match="incomplete"):
        open_shard(path)
    path.write_bytes(b"garbage")
    with pytest.raises(ShardError, match="not a readable HDF5"):
        open_shard(path)


AUTHORS = SpectrogramConfig(stft_scale="real_offset_db", mel_scale="magnitude_db10_ref_max")


def _true_snr(x, y):
    return 10 * np.log10((x ** 2).sum(-1) / ((y - x) ** 2).sum(-1))


def test_real_offset_scale_is_the_authors_and_inverts(segments):
    """amplitude_to_db(Re X + c) with c = -min Re X; Im X and c put back: > 90 dB round trip."""
    spec = Spectrogram(AUTHORS)
    db = spec.db("stft", segments)
    for i, y in enumerate(segments):
        real = librosa.stft(y, n_fft=512, hop_length=256, window="hann", center=True).real
        expected = librosa.amplitude_to_db(real - real.min(), ref=1.0, amin=AUTHORS.amin, top_db=None)
        assert np.abs(db[i] - expected)[real - real.min() > 1e-3].max() < 1e-3
    rebuilt = invert(spec, "stft", db, segments.shape[1], reference=spec.reference("stft", segments))
    assert _true_snr(segments, rebuilt).min() > 90


def test_eps_on_the_real_part_scale_is_an_additive_change(segments):
    """+0.3 dB on every bin moves Re X by (10^(0.3/20) - 1)(Re X + c), about 3.51 % of Re X + c."""
    spec = Spectrogram(AUTHORS)
    reference = spec.reference("stft", segments)
    real = spec.stft(segments).real.numpy()
    shifted = real + reference["offset"].numpy()
    change = spec.linear("stft", spec.db("stft", segments) + 0.3, reference).numpy() - real
    loud = shifted > 1e-3
    np.testing.assert_allclose(change[loud] / shifted[loud], 10 ** (0.3 / 20) - 1, rtol=1e-3)
    assert 10 ** (0.3 / 20) - 1 == pytest.approx(0.0351, abs=1e-4)


def test_mel_ref_max_scale_is_the_authors_and_doubles_eps(segments):
    """power_to_db(melspectrogram(power=1), ref=np.max); 0.3 dB there is 0.6 dB of amplitude."""
    spec = Spectrogram(AUTHORS)
    db = spec.db("mel", segments)
    assert np.abs(db.max(axis=(1, 2))).max() < 1e-5                       # 0 dB at each segment's peak
    for i, y in enumerate(segments):
        mel = librosa.feature.melspectrogram(y=y, sr=SR, n_fft=512, hop_length=256, n_mels=64, fmax=AUTHORS.fmax,
                                             power=1.0)
        expected = librosa.power_to_db(mel, ref=np.max, amin=AUTHORS.amin, top_db=None)
        assert np.abs(db[i] - expected)[mel > 1e-3 * mel.max()].max() < 1e-3
    reference = spec.reference("mel", segments)
    mel = spec.magnitude("mel", segments)
    np.testing.assert_allclose(spec.linear("mel", db, reference).numpy(), np.maximum(mel, AUTHORS.amin), rtol=1e-4)
    ratio = spec.linear("mel", db + 0.3, reference).numpy() / spec.linear("mel", db, reference).numpy()
    np.testing.assert_allclose(20 * np.log10(ratio), 0.6, atol=1e-4)
    with pytest.raises(ValueError, match="peak"):
        invert(spec, "mel", db, segments.shape[1])


def test_top_db_floor_is_its_own_lossy_option(segments):
    """The floor clamps bins more than top_db below the segment's peak: quiet bins do not come back."""
    floored = SpectrogramConfig(stft_scale="real_offset_db", top_db=80.0)
    spec, exact = Spectrogram(floored), Spectrogram(AUTHORS)
    db = spec.db("stft", segments)
    np.testing.assert_array_equal(db.min(axis=(1, 2)), db.max(axis=(1, 2)) - 80.0)
    lossless = exact.db("stft", segments)
    assert (db > lossless).any() and np.array_equal(np.maximum(lossless, db.max(axis=(1, 2), keepdims=True) - 80), db)
    reference = spec.reference("stft", segments)
    snr_floor = _true_snr(segments, invert(spec, "stft", db, segments.shape[1], reference=reference))
    snr_exact = _true_snr(segments, invert(exact, "stft", lossless, segments.shape[1], reference=reference))
    assert (snr_floor < snr_exact).all()
    with pytest.raises(ValueError, match="top_db"):
        SpectrogramConfig(top_db=0)
    with pytest.raises(ValueError, match="stft_scale"):
        SpectrogramConfig(stft_scale="real_part")


@pytest.mark.parametrize("name", ["hann", "hamming", "blackman"])
def test_analysis_window_is_librosas_to_the_bit(name):
    """torch's windows (hann, hamming) stand in for scipy's without importing scipy.signal:
    equal in float32 for every size from 16 to 4096; blackman still comes from scipy."""
    for n in (16, 255, 256, 512, 1000, 2048, 4096):
        expected = librosa.filters.get_window(name, n, fftbins=True).astype(np.float32)
        assert np.array_equal(periodic_window(name, n), expected), (name, n)


AUTHORS_SCALES = SpectrogramConfig(stft_scale="real_offset_db", mel_scale="magnitude_db10_ref_max")


@pytest.mark.parametrize("config", [CFG, AUTHORS_SCALES, SpectrogramConfig(top_db=80.0)])
@pytest.mark.parametrize("rep", ["stft", "mel"])
def test_differentiable_spectrogram_is_the_spectrogram(segments, config, rep):
    """What a waveform attack through a 2D CNN differentiates is the spectrogram the CNN reads."""
    spec = Spectrogram(config)
    audio = torch.from_numpy(segments[:2]).requires_grad_(True)
    db = spec.db_differentiable(rep, audio)
    np.testing.assert_allclose(db.detach().numpy(), spec.db(rep, segments[:2]), atol=2e-4)
    db.sum().backward()
    assert torch.isfinite(audio.grad).all() and audio.grad.abs().sum() > 0
