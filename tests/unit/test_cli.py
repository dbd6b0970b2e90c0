import json
import subprocess

import numpy as np
import pytest
import soundfile as sf

from conftest import BIN, TINY_WINDOW, train_tiny, write_audio
from crossrep import synthetic


@pytest.fixture(scope="module")
def checkpoints(tiny_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("ckpt")
    return {kind: train_tiny(tiny_data, kind, out, epochs=1)[0] for kind in ("cnn2d_stft", "cnn1d")}


def crossrep(*args):
    return subprocess.run([str(BIN / "crossrep"), *map(str, args)], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def stereo_44k(tmp_path_factory):
    """12 s of synthetic rock at 44.1 kHz, stereo: not the model's format."""
    mono = synthetic.generate_track("rock", 0, 99, 12.0, 44100)
    return write_audio(tmp_path_factory.mktemp("audio") / "song.wav", np.stack([mono, 0.5 * mono], 1), 44100)


def test_predict_a_file_in_another_sample_rate(checkpoints, stereo_44k):
    proc = crossrep("predict", stereo_44k, "--checkpoint", checkpoints["cnn2d_stft"], "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    hop = int(TINY_WINDOW * 0.25)                            # the checkpoint's windows, 75 % overlap
    assert len(out["segments"]) == 1 + (12 * 22050 - TINY_WINDOW) // hop
    assert out["vote"] in out["mean_probabilities"] and out["sum"] in out["mean_probabilities"]
    assert abs(sum(out["mean_probabilities"].values()) - 1) < 1e-3
    text = crossrep("predict", stereo_44k, "--checkpoint", checkpoints["cnn1d"])
    assert text.returncode == 0 and "majority vote:" in text.stdout and "sum rule" in text.stdout


def test_predict_errors_are_clear(checkpoints, tmp_path):
    short = write_audio(tmp_path / "short.wav", np.zeros(22050, np.float32) + 0.1, 22050)
    proc = crossrep("predict", short, "--checkpoint", checkpoints["cnn1d"])
    assert proc.returncode == 2 and "too short" in proc.stderr and "short.wav" in proc.stderr
    (tmp_path / "bad.wav").write_bytes(b"not audio at all")
    proc = crossrep("predict", tmp_path / "bad.wav", "--checkpoint", checkpoints["cnn1d"])
    assert proc.returncode == 2 and "unreadable" in proc.stderr
    proc = crossrep("predict", short, "--checkpoint", tmp_path / "missing.pt")
    assert proc.returncode == 2 and "checkpoint not found" in proc.stderr


def test_attack_writes_adversarial_audio_and_reports_snr(checkpoints, stereo_44k, tmp_path):
    out = tmp_path / "adv.wav"
    proc = crossrep("attack", stereo_44k, "--checkpoint", checkpoints["cnn2d_stft"], "--attack", "bim",
                    "--eps", "1.0", "--transfer", checkpoints["cnn1d"], "--out", out, "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    info = sf.info(out)
    assert (info.samplerate, info.channels, info.subtype, info.frames) == (22050, 1, "PCM_16", 12 * 22050)
    assert 0 < result["true_snr_db"] < 60                 # a real, finite perturbation
    assert result["level_ratio_db"] > result["true_snr_db"]
    assert result["transfer_model"] == "cnn1d" and result["before"]["sum"] in result["before"]["mean_probabilities"]


def test_waveform_attack_on_the_1d_cnn_is_bounded_by_the_rms_budget(checkpoints, stereo_44k, tmp_path):
    """FGSM on the 1D CNN moves every sample by eps x the file's RMS: true SNR -20 log10(eps)."""
    out = tmp_path / "adv1d.wav"
    proc = crossrep("attack", stereo_44k, "--checkpoint", checkpoints["cnn1d"], "--attack", "fgsm", "--eps", "0.1",
                    "--transfer", checkpoints["cnn2d_stft"], "--out", out, "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["eps_unit"] == "x RMS" and result["transfer_model"] == "cnn2d_stft"
    assert result["true_snr_db"] == pytest.approx(20.0, abs=0.1)   # 16-bit WAV aside, exactly 20 dB
    adversarial = sf.read(out, dtype="float32")[0]
    assert len(adversarial) == 12 * 22050


def test_compare_two_files(tmp_path):
    """A known additive noise gives its SNR; identical files give ViSQOL's ceiling."""
    rng = np.random.default_rng(0)
    clean = synthetic.generate_track("jazz", 0, 7, 2.5, 22050).astype(np.float64)
    noise = rng.standard_normal(len(clean))
    noise *= np.sqrt(np.mean(clean ** 2) / np.mean(noise ** 2)) * 10 ** (-20 / 20)    # exactly 20 dB below
    ref = write_audio(tmp_path / "ref.wav", clean.astype(np.float32), 22050, subtype="FLOAT")
    deg = write_audio(tmp_path / "deg.wav", (clean + noise).astype(np.float32), 22050, subtype="FLOAT")
    result = json.loads(crossrep("compare", ref, deg, "--json").stdout)
    assert result["true_snr_db"] == pytest.approx(20.0, abs=0.1)
    assert result["lsd_db"] > 1 and 1 <= result["visqol_moslqo"] < result["visqol_ceiling"]
    same = json.loads(crossrep("compare", ref, ref, "--json").stdout)
    assert same["visqol_moslqo"] == pytest.approx(4.73, abs=0.01) and same["lsd_db"] == 0
    assert same["true_snr_db"] is None or same["true_snr_db"] == float("inf")
    short = write_audio(tmp_path / "short.wav", clean[:22050].astype(np.float32), 22050)
    proc = crossrep("compare", ref, short)
    assert proc.returncode == 2 and "short.wav" in proc.stderr and "same audio" in proc.stderr
