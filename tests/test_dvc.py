"""DVC over the workflow in a real temporary git + DVC repository.

The outputs of the session's tiny pipeline run are committed to DVC (`dvc commit`, no
recomputation), then an attack parameter changes and `dvc repro` must rerun only the
attack-downstream stages, leaving every checkpoint untouched.
"""
import hashlib
import os
import shutil
import subprocess

import pytest
import yaml

from conftest import BIN, REPO


def sh(cwd, *args, check=True):
    env = dict(os.environ, PATH=f"{BIN}:{os.environ['PATH']}", DVC_NO_ANALYTICS="1")
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc.stdout + proc.stderr


def digests(folder):
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*.pt"))}


@pytest.fixture
def repo(tmp_path, pipeline_run):
    repo = tmp_path / "repo"
    shutil.copytree(pipeline_run, repo, symlinks=True)         # keeps mtimes and .snakemake metadata
    shutil.copy(REPO / "dvc.yaml", repo)
    shutil.copytree(REPO / "src", repo / "src")                # the code the stages depend on
    # metrics.json is a DVC metric with cache: false, i.e. versioned by git itself
    (repo / ".gitignore").write_text("/data/\n/models/\n/reports/*\n!/reports/metrics.json\n/logs/\n"
                                     "/benchmarks/\n/.snakemake/\n")
    sh(repo, "git", "init", "-q")
    sh(repo, "git", "config", "user.email", "ci@example.invalid")
    sh(repo, "git", "config", "user.name", "ci")
    sh(repo, "dvc", "init", "-q")
    sh(repo, "dvc", "config", "core.analytics", "false")
    sh(repo, "dvc", "commit", "-f")                            # record the existing outputs
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "-qm", "tiny run")
    return repo


def _set_eps(repo, eps):
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["attack"]["fgsm"]["eps"] = eps
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def test_attack_change_reruns_only_downstream_and_metrics_diff(repo, tmp_path):
    assert "up to date" in sh(repo, "dvc", "status")
    checkpoints = digests(repo / "models")
    assert len(checkpoints) == 9
    _set_eps(repo, 1.0)
    out = sh(repo, "dvc", "repro")
    for stage in ("data", "spectrograms", "train"):
        assert f"Stage '{stage}' didn't change, skipping" in out
    for stage in ("attack", "transfer", "report"):
        assert f"Running stage '{stage}'" in out
    assert "Training" not in out                               # no training job ran
    assert digests(repo / "models") == checkpoints
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "-qm", "fgsm eps 1.0")
    diff = sh(repo, "dvc", "metrics", "diff", "HEAD~1")
    assert "attack.stft.fgsm.segments.mean" in diff
    assert "attack.stft.bim.segments.mean" not in diff          # BIM untouched
    assert "attack.fgsm.eps" in sh(repo, "dvc", "params", "diff", "HEAD~1")

    # a local remote: a fresh clone pulls the outputs instead of recomputing them
    remote = tmp_path / "remote"
    sh(repo, "dvc", "remote", "add", "-d", "local", str(remote))
    sh(repo, "git", "commit", "-qam", "remote")
    sh(repo, "dvc", "push")
    clone = tmp_path / "clone"
    sh(tmp_path, "git", "clone", "-q", str(repo), str(clone))
    sh(clone, "dvc", "pull")
    assert digests(clone / "models") == checkpoints
    assert (clone / "reports/metrics.json").read_bytes() == (repo / "reports/metrics.json").read_bytes()
    assert "up to date" in sh(clone, "dvc", "status")
