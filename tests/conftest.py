"""Shared fixtures: the real default params, tiny variants of them, small real audio."""
from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


@pytest.fixture(scope="session")
def default_params() -> dict:
    return yaml.safe_load((REPO / "params.yaml").read_text())


# The tiny configuration's signal: 1.5 s windows (the 1D CNN's Table II stack needs
# ~1.25 s at 512 Gammatone taps), 75 % overlap, clips of two windows. Every shard, FFT,
# attack and rebuild is 3.3x smaller than with the real 5 s windows; the layer arithmetic
# at 5 s is tested apart (unit/test_models.py).
TINY_WINDOW = 33075
TINY_CLIP_SECONDS = 1.875       # round(1.875 * 22050) = 41344 samples: windows at 0 and 8268
TINY_FRAMES = 1 + TINY_WINDOW // 256


def tiny(params: dict) -> dict:
    """A configuration small enough for a test: 3 clips per genre of 1.875 s (2 segments each)."""
    p = copy.deepcopy(params)
    p["dataset"]["synthetic"]["tracks_per_genre"] = 3
    p["dataset"]["clip_seconds"] = TINY_CLIP_SECONDS
    p["segment"]["window"] = TINY_WINDOW
    p["model"]["cnn2d"].update(widths=[2, 2, 4, 4], dense=8)
    p["model"]["cnn1d"].update(gammatone_filters=4, widths=[4, 4, 4, 4], dense=8)
    p["model"]["samplecnn"].update(widths=[4, 4, 4, 4, 4, 4])
    p["model"]["resnet"].update(widths=[2, 4, 4])
    p["train"].update(epochs=2, patience=2, threads=1)
    p["attack"]["eps_sweep"] = [0.3, 3.0]
    p["reconstruction"].update(griffin_lim_iterations=4, nnls_iterations=20)
    p["study"].update(sources={"stft": {"eps": [1.0, 10.0]}, "mel": {"eps": [1.0, 10.0]},
                               "cnn1d": {"models": ["cnn1d"], "eps": [0.1, 1.0]}},
                      matched_snr_db=[20, 10], visqol_clips=0, noise_draws=2, bootstrap_resamples=200)
    return p


@pytest.fixture
def tiny_params(default_params) -> dict:
    return tiny(default_params)


def pipeline_params(default_params) -> dict:
    """The workflow tests' configuration: the tiny one in 2 folds of one clip per genre (every
    per-fold job once less than with 3 folds; 20 segments per fold either way)."""
    p = tiny(default_params)
    p["dataset"]["folds"] = 2
    p["dataset"]["synthetic"]["tracks_per_genre"] = 2
    p["attack"]["methods"] = ["fgsm", "bim"]
    p["attack"]["batch_size"] = 4          # several appends per shard: a kill can land mid-shard
    p["study"]["visqol_clips"] = 1         # ViSQOL on one clip per fold, the STFT attacks at eps 10
    p["study"]["sources"]["stft"]["visqol_eps"] = [10.0]
    # a waveform attack through both 2D CNNs at once (an ensemble source)
    p["study"]["sources"]["wave_2d"] = {"models": ["cnn2d_stft", "cnn2d_mel"], "eps": [0.1, 1.0]}
    return p


@pytest.fixture(scope="session")
def pipeline_run(tmp_path_factory, default_params) -> Path:
    """The whole workflow on the tiny configuration, built once for the session by a full
    `dvc repro` in a real git + DVC repository (committed). test_robustness rebuilds it with
    plain `snakemake` and compares: both entry points give the same bytes."""
    wf = dvc_project(write_workflow(tmp_path_factory.mktemp("pipeline"), pipeline_params(default_params)))
    sh(wf, "dvc", "repro")
    sh(wf, "git", "add", "-A")
    sh(wf, "git", "commit", "-qm", "tiny run")
    return wf


@pytest.fixture
def repo(tmp_path, pipeline_run):
    """A copy of the session's committed tiny run, for a test that changes it (keeps mtimes
    and .snakemake's metadata, so Snakemake and DVC see it as built)."""
    copy_ = tmp_path / "repo"
    shutil.copytree(pipeline_run, copy_, symlinks=True)
    return copy_


def dry_run(workflow: Path, overlay: dict | None = None, *args) -> str:
    """What Snakemake would run in ``workflow`` (stdout + stderr of a dry run), with
    ``overlay`` laid over its params.yaml as a --configfile: a parameter change planned
    without copying or touching the run."""
    if overlay:
        path = workflow.parent / f"overlay-{workflow.name}.yaml"
        path.write_text(yaml.safe_dump(overlay, sort_keys=False))
        args = ("--configfile", str(path), *args)
    proc = snakemake(workflow, "--dry-run", *args)
    return proc.stdout + proc.stderr


def sh(cwd, *args, check=True, timeout=1800) -> str:
    """Run a command with the venv first on PATH; its stdout + stderr."""
    env = dict(os.environ, PATH=f"{BIN}:{os.environ['PATH']}", DVC_NO_ANALYTICS="1")
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc.stdout + proc.stderr


def dvc_project(directory: Path) -> Path:
    """Make a workflow copy a git + DVC project: the real dvc.yaml, .gitignore and .dvcignore,
    and the code its stages depend on."""
    shutil.copy(REPO / "dvc.yaml", directory)
    shutil.copy(REPO / ".gitignore", directory)
    shutil.copytree(REPO / "src", directory / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    sh(directory, "git", "init", "-q")
    sh(directory, "git", "config", "user.email", "ci@example.invalid")
    sh(directory, "git", "config", "user.name", "ci")
    sh(directory, "dvc", "init", "-q")
    sh(directory, "dvc", "config", "core.analytics", "false")
    shutil.copy(REPO / ".dvcignore", directory)    # over the one `dvc init` writes
    sh(directory, "git", "add", "-A")
    sh(directory, "git", "commit", "-qm", "workflow")
    return directory


def write_workflow(directory: Path, params: dict) -> Path:
    """A runnable copy of the workflow in ``directory`` with ``params`` as params.yaml."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in ("Snakefile", "workflow", "envs"):
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, directory / name, dirs_exist_ok=True)
        else:
            shutil.copy(src, directory / name)
    (directory / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return directory


def snakemake(directory: Path, *args, check=True, timeout=1800) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=f"{BIN}:{os.environ['PATH']}")
    proc = subprocess.run([str(BIN / "snakemake"), "--cores", "2", *args], cwd=directory, env=env,
                          capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {args} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


def tone(seconds: float, sample_rate: int, freq: float = 440.0, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    x = 0.3 * np.sin(2 * np.pi * freq * t) + 0.05 * np.sin(2 * np.pi * 3.3 * freq * t)
    return np.repeat(x[:, None], channels, axis=1) if channels > 1 else x


def write_audio(path: Path, data: np.ndarray, sample_rate: int, **kw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, data, sample_rate, **kw)
    return path


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory):
    """Real shards of a tiny synthetic dataset built by the pipeline's own steps (no Snakemake)."""
    from crossrep.steps import manifest, segments, spectrograms, synthesize

    p = tiny(yaml.safe_load((REPO / "params.yaml").read_text()))
    root = tmp_path_factory.mktemp("tiny")
    raw = root / "raw"
    synthesize.run(root=raw, params=p)
    manifest.run(root=raw, out=root / "manifest.csv", params=p)
    for fold in (1, 2, 3):
        seg = root / f"segments/fold{fold}.h5"
        segments.run(manifest=root / "manifest.csv", root=raw, out=seg, fold=fold, params=p)
        for rep in ("stft", "mel"):
            spectrograms.run(segments=seg, out=root / f"{rep}/fold{fold}.h5", representation=rep,
                             params=dict(p, spectrogram=dict(p["spectrogram"], batch_size=16)))
    return root, p


def train_tiny(tiny_data, kind, out_dir, fold=3, **train_overrides):
    """Train ``kind`` on folds != ``fold`` of the tiny data; returns (checkpoint, history)."""
    from crossrep.steps import train

    root, p = tiny_data
    src = {"cnn1d": "segments/fold{}.h5", "samplecnn": "segments/fold{}.h5", "cnn2d_stft": "stft/fold{}.h5",
           "cnn2d_mel": "mel/fold{}.h5", "resnet_mel": "mel/fold{}.h5"}[kind]
    params = copy.deepcopy(p)
    params["train"].update(train_overrides, device="cpu")
    ckpt, hist = Path(out_dir) / f"{kind}.pt", Path(out_dir) / f"{kind}.csv"
    train.run(kind=kind, train_shards=[root / src.format(k) for k in (1, 2, 3) if k != fold], checkpoint=ckpt,
              history=hist, fold=fold, params=params)
    return ckpt, hist
