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


def strict_json(text: str):
    """json.loads that rejects Infinity and NaN, as strict parsers do."""
    def reject(constant):
        raise ValueError(f"non-standard JSON constant {constant}")
    return json.loads(text, parse_constant=reject)


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
    # the tiny models are trained on the synthetic demo data, and their checkpoints say so
    assert "trained on the synthetic demo data" in out["warning"] and "warning: " in text.stderr


def test_predict_errors_are_clear(checkpoints, tmp_path):
    short = write_audio(tmp_path / "short.wav", np.zeros(22050, np.float32) + 0.1, 22050)
    proc = crossrep("predict", short, "--checkpoint", checkpoints["cnn1d"])
    assert proc.returncode == 2 and "too short" in proc.stderr and "short.wav" in proc.stderr
    (tmp_path / "bad.wav").write_bytes(b"not audio at all")
    proc = crossrep("predict", tmp_path / "bad.wav", "--checkpoint", checkpoints["cnn1d"])
    assert proc.returncode == 2 and "unreadable" in proc.stderr
    proc = crossrep("predict", short, "--checkpoint", tmp_path / "missing.pt")
    assert proc.returncode == 2 and "missing.pt: not found" in proc.stderr and "Traceback" not in proc.stderr


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


def test_transfer_oriented_attack_on_a_file_keeps_its_budget(checkpoints, stereo_44k, tmp_path):
    """DI-MI-FGSM from the CLI: within the L-inf budget (true SNR at least -20 log10(eps)), and
    the same file again with the same seed gives the same samples."""
    outs = [tmp_path / f"adv{i}.wav" for i in range(2)]
    for out in outs:
        proc = crossrep("attack", stereo_44k, "--checkpoint", checkpoints["cnn1d"], "--attack", "di_mi_fgsm",
                        "--eps", "0.1", "--iterations", "3", "--out", out, "--json")
        assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["true_snr_db"] >= 20.0 - 0.1
    assert np.array_equal(*(sf.read(out, dtype="int16")[0] for out in outs))


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
    same = strict_json(crossrep("compare", ref, ref, "--json").stdout)  # an infinite SNR is a null and a reason
    assert same["visqol_moslqo"] == pytest.approx(4.73, abs=0.01) and same["lsd_db"] == 0
    assert same["true_snr_db"] is None and "identical" in same["notes"]["true_snr_db"]
    assert "infinite: the two signals are identical" in crossrep("compare", ref, ref).stdout
    short = write_audio(tmp_path / "short.wav", clean[:22050].astype(np.float32), 22050)
    proc = crossrep("compare", ref, short)
    assert proc.returncode == 2 and "short.wav" in proc.stderr and "same audio" in proc.stderr


@pytest.fixture
def files_at(tmp_path, stereo_44k):
    """A working folder with the inputs the bad-input cases misuse."""
    (tmp_path / "folder").mkdir()
    (tmp_path / "random.bin").write_bytes(b"\x00\x01 not a checkpoint")
    import torch
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    short = synthetic.generate_track("jazz", 0, 7, 0.1, 22050)
    write_audio(tmp_path / "a.wav", short, 22050), write_audio(tmp_path / "b.wav", short, 22050)
    return tmp_path


BAD_INPUTS = {  # argv (paths relative to the working folder) -> what the one-line error must say
    "missing file": (["predict", "missing.wav", "--checkpoint", "{stft}"], "missing.wav: not found"),
    "audio as checkpoint": (["predict", "{song}", "--checkpoint", "{song}"], "not a PyTorch file"),
    "other checkpoint": (["predict", "{song}", "--checkpoint", "other.pt"], "not written by crossrep"),
    "random bytes": (["predict", "{song}", "--checkpoint", "random.bin"], "not a checkpoint"),
    "short files to compare": (["compare", "a.wav", "b.wav"], "needs at least 1 s"),
    "--out a folder": (["attack", "{song}", "--checkpoint", "{stft}", "--out", "folder"], "--out folder: is a folder"),
    "--out in no folder": (["attack", "{song}", "--checkpoint", "{stft}", "--out", "nowhere/x.wav"],
                           "does not exist"),
    "missing --transfer": (["attack", "{song}", "--checkpoint", "{stft}", "--transfer", "gone.pt", "--out", "x.wav"],
                           "--transfer gone.pt: not found"),
    "unknown genre": (["attack", "{song}", "--checkpoint", "{stft}", "--genre", "polka", "--out", "x.wav"],
                      "--genre 'polka' is not one of"),
    "truth without genre": (["attack", "{song}", "--checkpoint", "{stft}", "--label", "truth", "--out", "x.wav"],
                            "--label truth needs --genre"),
    "negative eps": (["attack", "{song}", "--checkpoint", "{stft}", "--eps", "-1", "--out", "x.wav"], "--eps -1"),
}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(case, checkpoints, stereo_44k, files_at, capsys,
                                                         monkeypatch):
    from crossrep import cli

    monkeypatch.chdir(files_at)
    argv, says = BAD_INPUTS[case]
    before = sorted(p.name for p in files_at.iterdir())
    assert cli.main([a.format(stft=checkpoints["cnn2d_stft"], song=stereo_44k) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("crossrep: error: ") and says in err, err
    assert sorted(p.name for p in files_at.iterdir()) == before  # checked before any work: nothing written


def test_genre_is_matched_in_any_case_and_implies_truth_labels(checkpoints, stereo_44k, tmp_path):
    proc = crossrep("attack", stereo_44k, "--checkpoint", checkpoints["cnn2d_stft"], "--attack", "fgsm",
                    "--genre", "Rock", "--out", tmp_path / "adv.wav", "--json")
    assert proc.returncode == 0, proc.stderr
    assert strict_json(proc.stdout)["written"] == {"sample_rate": 22050, "channels": 1, "subtype": "PCM_16"}


def test_silent_windows_are_reported_not_classified(checkpoints, tmp_path):
    music = synthetic.generate_track("rock", 0, 5, 3.0, 22050)
    path = write_audio(tmp_path / "gap.wav", np.concatenate([np.zeros(3 * 22050, np.float32), music]), 22050)
    out = strict_json(crossrep("predict", path, "--checkpoint", checkpoints["cnn1d"], "--json").stdout)
    silent = [s for s in out["segments"] if s.get("silent")]
    assert silent and all(s["genre"] is None for s in silent) and out["silent_segments"] == len(silent)
    assert out["sum"] is not None and len(silent) < len(out["segments"])
    quiet = write_audio(tmp_path / "quiet.wav", np.zeros(3 * 22050, np.float32), 22050)
    out = strict_json(crossrep("predict", quiet, "--checkpoint", checkpoints["cnn1d"], "--json").stdout)
    assert out["vote"] is None and out["sum"] is None and "silent" in out["reason"]


def test_version_and_defaults_in_help():
    version = crossrep("--version")
    assert version.returncode == 0 and version.stdout.startswith("crossrep ")
    assert "(default: 0.3)" in crossrep("attack", "--help").stdout


def test_predict_streams_an_hour_within_1_gb(checkpoints, tmp_path):
    """An hour of audio: memory is a batch of windows, not the file (bench/recording_memory.py
    measures it against a 5-minute file). The checkpoint's segmentation is made non-overlapping
    so that the hour is 2400 windows of the tiny model."""
    import sys

    import torch

    ckpt = torch.load(checkpoints["cnn2d_stft"], weights_only=True)
    ckpt["params"]["segment"]["overlap"] = 0.0
    torch.save(ckpt, tmp_path / "hop.pt")
    hour, rng = tmp_path / "hour.wav", np.random.default_rng(0)
    with sf.SoundFile(hour, "w", 22050, 1, subtype="PCM_16") as out:
        for _ in range(60):  # a minute at a time
            out.write(0.1 * rng.standard_normal(60 * 22050))
    script = ("import resource, sys; from crossrep import cli; assert cli.main(sys.argv[1:]) == 0; "
              "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    proc = subprocess.run([sys.executable, "-c", script, "predict", hour, "--checkpoint", tmp_path / "hop.pt"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[0].startswith(f"{hour}: {3600 * 22050 // TINY_WINDOW} segment(s)")
    peak_mb = int(lines[-1]) / 1024  # ru_maxrss is in KB on Linux
    assert peak_mb < 1024, f"peak RSS {peak_mb:.0f} MB"
