import json
import subprocess

import numpy as np
import pytest
import soundfile as sf

from conftest import BIN, train_tiny, write_audio
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
    assert len(out["segments"]) == 6                      # 12 s at 22.05 kHz: 1 + (12-5)/1.25 windows
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
    assert "cnn1d_after" in result and result["before"]["sum"] in result["before"]["mean_probabilities"]
    proc = crossrep("attack", stereo_44k, "--checkpoint", checkpoints["cnn1d"], "--out", out)
    assert proc.returncode == 2 and "2D CNN" in proc.stderr
