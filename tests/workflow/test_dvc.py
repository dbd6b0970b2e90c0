"""DVC over the workflow in a real temporary git + DVC repository.

The session's tiny pipeline was built by a full `dvc repro` and committed (conftest
``pipeline_run``); each test works on a copy of that repository.
"""
import csv
import hashlib
import io
import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import BIN, REPO, sh

STAGES = ["data", "segments", "spectrograms", "train", "attack", "transfer", "study", "report"]


def digests(folder):
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*.pt"))}


def test_full_repro_is_recorded_and_clean(repo):
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    assert list(lock["stages"]) == STAGES
    assert "up to date" in sh(repo, "dvc", "status")
    assert sh(repo, "git", "status", "--porcelain") == ""      # outputs git-ignored, lock committed
    shown = json.loads(sh(repo, "dvc", "metrics", "show", "--json"))[""]["data"]
    details = json.loads((repo / "reports/metrics_details.json").read_text())
    assert shown["reports/headline/clean_mel.json"]["data"]["acc"] == details["clean"]["cnn2d_mel"]["segments"]["mean"]
    assert all(path.endswith(".json") for path in shown), list(shown)   # no Snakemake marker as a row
    study_rows = [path for path in shown if "_to_" in path]
    # off the diagonal: 4 source paths x (2 other paper models + 2 held out), the 2D ensemble to
    # the 1D CNN and the 2 held-out models
    assert len(study_rows) == 19 and all(shown[p]["data"]["beats"] >= 0 for p in study_rows)
    table = sh(repo, "dvc", "metrics", "show").splitlines()            # what a terminal shows
    assert len(table) <= 70 and max(map(len, table)) <= 80, "\n".join(table)
    assert sum(isinstance(v, float | int) for row in shown.values() for v in row["data"].values()) <= 80


def _first_bash_block(doc) -> str:
    """The first bash block of a Markdown file of the repository."""
    return re.search(r"```bash\n(.*?)```", (REPO / doc).read_text(), re.S).group(1)


def test_dvc_guide_as_typed_an_attack_change_reruns_only_downstream_and_a_clone_pulls(repo, tmp_path):
    """The DVC guide's block (docs/dvc.md), typed in a shell where only `source
    .venv/bin/activate` puts the tools on PATH, on a repository as `make run` leaves it
    (outputs built, no dvc.lock yet). Its experiment (FGSM eps 0.3 -> 3.0) is the attack
    change: only the stages and jobs downstream of FGSM rerun, the metrics and params diffs
    name it, and a fresh clone pulls the outputs through a local remote."""
    baseline = json.loads((repo / "reports/metrics_details.json").read_text())
    checkpoints = digests(repo / "models")
    assert len(checkpoints) == 10
    sh(repo, "git", "rm", "-q", "dvc.lock")
    sh(repo, "git", "commit", "-qm", "as make run leaves it")
    block = _first_bash_block("docs/dvc.md")
    assert block.startswith("source .venv/bin/activate")
    script = "set -euo pipefail\n" + block.replace("source .venv/bin/activate", f"source {BIN}/activate")
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if Path(p) != BIN)
    env = dict(os.environ, PATH=path, DVC_NO_ANALYTICS="1")
    proc = subprocess.run(["bash", "-c", script], cwd=repo, env=env, capture_output=True, text=True, timeout=1800)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    # the guide's `dvc repro` runs every stage once (no lock yet; Snakemake finds nothing to
    # do); its experiment reruns the stages downstream of the attack, and inside them only
    # the FGSM jobs (job messages of the attack, sweep and transfer rules)
    for stage in ("data", "segments", "spectrograms", "train"):
        assert out.count(f"Running stage '{stage}'") == 1, stage
        assert f"Stage '{stage}' didn't change, skipping" in out
    for stage in ("attack", "transfer", "report"):
        assert out.count(f"Running stage '{stage}'") == 2, stage
    assert "Training" not in out
    for method, ran in (("fgsm", True), ("bim", False)):
        for message in (f"{method} on the", f"{method} accuracy against eps", f"Rebuilding {method}"):
            assert (message in out) == ran, message
    assert digests(repo / "models") == checkpoints

    table = list(csv.DictReader(io.StringIO(sh(repo, "dvc", "exp", "show", "--csv"))))
    exp = next(row for row in table if row["Experiment"] == "fgsm-eps3")
    base = next(row for row in table if row["typ"] == "baseline" and row["rev"] != "workspace")  # HEAD
    assert float(exp["attack.fgsm.eps"]) == 3.0 and float(base["attack.fgsm.eps"]) == 0.3
    snr = "reports/headline/whitebox_stft_fgsm.json:snr_db"
    assert float(base[snr]) == pytest.approx(baseline["snr"]["stft"]["fgsm"]["true_snr_db"]["mean"])
    # a 10x larger FGSM budget is a 10x larger perturbation: 20 dB less SNR
    assert float(base[snr]) - float(exp[snr]) == pytest.approx(20.0, abs=1.5)
    for untouched in ("whitebox_stft_bim.json:snr_db", "whitebox_mel_bim.json:acc", "clean_mel.json:acc"):
        assert exp[f"reports/headline/{untouched}"] == base[f"reports/headline/{untouched}"]

    # the plot data of the experiment: one series per attack, the training histories
    page = (repo / "dvc_plots" / "index.html").read_text()         # written by the guide's `dvc plots show`
    for series in ("accuracy_vs_eps/stft_fgsm.csv", "accuracy_vs_eps/mel_bim.csv", "training/cnn1d_fold1.csv"):
        assert series.replace("/", "_").replace(".", "_") in page, series

    # the experiment committed: the diffs name what moved and nothing else
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "-qm", "fgsm eps 3.0")
    diff = sh(repo, "dvc", "metrics", "diff", "HEAD~1")
    moved = {tuple(line.split()[:2]) for line in diff.splitlines()[1:] if line.strip()}
    assert ("reports/headline/whitebox_stft_fgsm.json", "snr_db") in moved  # the SNR moved with eps
    assert "whitebox_stft_bim.json" not in diff and "clean_" not in diff    # BIM and the models untouched
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
    for metrics in ("reports/metrics_details.json", *(f"reports/headline/{p.name}" for p in
                                                      (repo / "reports/headline").iterdir())):
        assert (clone / metrics).read_bytes() == (repo / metrics).read_bytes(), metrics
    assert "up to date" in sh(clone, "dvc", "status")
