"""The SLURM profile on a REAL single-node cluster (tests/local_slurm.py): a tiny configuration
goes through sbatch (every kind of cluster job), and sacct shows every cluster job."""
from __future__ import annotations

import os
import subprocess
from collections import Counter
from pathlib import Path

import pytest
import yaml

from conftest import REPO, snakemake, tiny, write_workflow
from tools.jobstats import job_stats
from tools.local_slurm import CONF_DIR, LocalSlurm, missing

LOCAL_RULES = {"synthesize", "manifest", "listening", "report"}

why_not = missing()
if why_not and os.environ.get("CI"):
    pytest.fail(f"CI must run the SLURM test: {why_not} (make test installs SLURM as root)", pytrace=False)
pytestmark = pytest.mark.skipif(bool(why_not), reason=f"no local SLURM: {why_not}")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = LocalSlurm(tmp_path_factory.mktemp("slurm-state"), gpus=2).start()
    yield c
    daemons = list(c.procs)
    c.stop()
    # a leftover slurm.conf would make every later snakemake call wait on scontrol
    assert not (CONF_DIR / "slurm.conf").exists()
    assert daemons and all(proc.poll() is not None for _, proc in daemons)


def tiny_cluster_profile(directory: Path) -> Path:
    """profiles/slurm as shipped, with requests cut to this one-node cluster and quick polls;
    the GPU requests stay (the test cluster has two stand-in GPUs)."""
    profile = yaml.safe_load((REPO / "profiles/slurm/config.yaml").read_text())
    for resources in profile["set-resources"].values():
        resources.update(mem_mb=min(resources.get("mem_mb", 1500), 1500), runtime=30)
    profile["default-resources"]["mem_mb"] = 1500
    profile["set-threads"] = {rule: 1 for rule in profile["set-threads"]}
    profile.update({"slurm-init-seconds-before-status-checks": 2, "latency-wait": 5, "retries": 0,
                    "keep-going": False})
    directory.mkdir(parents=True)
    (directory / "config.yaml").write_text(yaml.safe_dump(profile))
    return directory


def test_pipeline_through_slurm_profile(cluster, tmp_path, default_params):
    p = tiny(default_params)
    p["dataset"]["folds"] = 2
    p["dataset"]["synthetic"]["tracks_per_genre"] = 2
    p["attack"]["methods"] = ["fgsm"]
    p["attack"]["eps_sweep"] = []
    wf = write_workflow(tmp_path / "wf", p)
    profile = tiny_cluster_profile(tmp_path / "profile")

    # every kind of cluster job once or more (the GPU rules, the training group, the study's
    # perturbation and scoring), for test fold 1, not the whole pipeline: each cluster job
    # parses the workflow again, and the rebuild/transfer/report rules add nothing the
    # profile treats differently
    models = ("cnn1d", "cnn2d_stft", "cnn2d_mel")
    targets = [f"models/{model}/fold1.pt" for model in models]
    targets += [f"data/predictions/{model}/fold1-part1.h5" for model in models]
    targets += [f"data/adversarial/{rep}/fgsm/fold1-part1.h5" for rep in ("stft", "mel")]
    targets += [f"data/eps_sweep/{rep}/fgsm/fold1.csv" for rep in ("stft", "mel")]
    targets += ["data/study/scores/cnn1d/fold1-part1.h5"]
    snakemake(wf, "manifest")   # the checkpoint that plans the shard parts: a dry run sees every job after it
    planned = snakemake(wf, "--profile", str(profile), "--dry-run", *targets)
    run = snakemake(wf, "--profile", str(profile), *targets, timeout=1800)
    assert "submitted with SLURM jobid" in run.stdout + run.stderr
    assert all((wf / target).stat().st_size > 0 for target in targets)

    # every non-local job went through sbatch and is in the accounting database; the
    # profile groups each training with its clean predictions (comment: rule_<group>_<rules>)
    sacct = subprocess.run(["sacct", "-X", "-n", "-P", "-a", "-o", "JobID,Comment,State,AllocTRES"],
                           capture_output=True, text=True, check=True).stdout.strip().splitlines()
    records = [dict(zip(("id", "comment", "state", "tres"), line.split("|"), strict=True)) for line in sacct]
    for r in records:
        name = r["comment"].removeprefix("rule_").split("_wildcards_")[0]
        r["rule"] = "train_and_predict" if name.startswith("train_and_predict_") else name
    planned_jobs = job_stats(planned.stdout + planned.stderr)
    # test fold 1's models: the three attacked (with their clean predictions), and the
    # held-out targets the study scores
    assert planned_jobs["predict_clean"] == len(models)
    assert planned_jobs["train"] == len(models) + len(p["study"]["held_out"])
    expected = {rule: n for rule, n in planned_jobs.items()   # all, all_*: targets that run nothing
                if rule not in LOCAL_RULES | {"train", "predict_clean"} and not rule.startswith("all")}
    expected["train_and_predict"] = planned_jobs["train"]
    assert Counter(r["rule"] for r in records) == expected
    assert {r["state"] for r in records} == {"COMPLETED"}
    # the profile's GPU requests reached SLURM (training, attacks) and nothing else asked for one
    assert {r["rule"] for r in records if "gres/gpu=1" in r["tres"]} == {"train_and_predict", "adversarial",
                                                                        "eps_sweep"}
