"""Interrupted runs (SIGKILL mid-training and mid-attack) and determinism, for real: the
killed-and-resumed run, with every fold split into two shard parts, must end byte-identical
to the session's uninterrupted run of one part per fold."""
import os
import signal
import subprocess
import time

import torch

from conftest import BIN, pipeline_params, snakemake, write_workflow
from crossrep import models
from crossrep.shards import open_shard


def _start(wf, *targets):
    env = dict(os.environ, PATH=f"{BIN}:{os.environ['PATH']}")
    return subprocess.Popen([str(BIN / "snakemake"), "--cores", "2", *targets], cwd=wf, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def _kill_when(proc, condition, timeout=600):
    """SIGKILL the whole Snakemake process group as soon as ``condition()`` holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, "the workflow finished before the moment to kill it"
        assert time.monotonic() < deadline, "timed out waiting for the moment to kill"
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _mtimes(paths):
    return {p: p.stat().st_mtime_ns for p in paths}


def test_sigkill_mid_training_and_mid_attack_then_rerun_gives_identical_metrics(tmp_path, default_params, pipeline_run):
    params = pipeline_params(default_params)
    params["shards"]["max_segments"] = 10     # two parts of 5 clips (10 segments) per fold
    wf = write_workflow(tmp_path / "wf", params)
    snakemake(wf, "all_spectrograms")
    assert len(list((wf / "data/segments").glob("fold*-part*.h5"))) == 2 * 2
    done_before = _mtimes(sorted((wf / "data").rglob("*.h5")))

    # 1. killed in the middle of training: after an epoch checkpoint, before the model file
    proc = _start(wf, "all_models")
    _kill_when(proc, lambda: any((wf / "models").glob("*/fold*.resume.pt")))
    resumable = sorted((wf / "models").glob("*/fold*.resume.pt"))
    for ckpt in (wf / "models").glob("*/fold?.pt"):        # whatever finished is whole
        models.load_checkpoint(ckpt)
    finished_models = _mtimes((wf / "models").glob("*/fold?.pt"))
    snakemake(wf, "--unlock")
    snakemake(wf, "all_models")
    assert _mtimes(done_before) == done_before              # finished shards were not redone
    assert all(finished_models[c] == c.stat().st_mtime_ns for c in finished_models)
    resumed = [r for r in resumable if "resuming from epoch" in
               (wf / "logs/train" / r.parent.name / r.name.replace(".resume.pt", ".log")).read_text()]
    assert resumed, "no training job resumed from its epoch checkpoint"
    assert not list((wf / "models").glob("*/*.resume.pt")) and not list(wf.rglob("*.part"))
    # the resumed model is the model the uninterrupted session run trained (same data, params, seed)
    for path in resumed:
        model, fold = path.parent.name, path.name.split(".")[0]
        a = torch.load(wf / f"models/{model}/{fold}.pt", weights_only=True)["state_dict"]
        b = torch.load(pipeline_run / f"models/{model}/{fold}.pt", weights_only=True)["state_dict"]
        assert all(torch.equal(a[k], b[k]) for k in a)

    # 2. killed while an adversarial shard is half written
    proc = _start(wf, "all_attacks")
    _kill_when(proc, lambda: any((wf / "data").glob("adversarial/*/*/.fold*.part")))
    for shard in (wf / "data").glob("adversarial/*/*/fold*.h5"):   # only complete shards carry the name
        with open_shard(shard, "perturbation") as h5:
            assert h5["perturbation"].shape[0] == h5.attrs["rows"] == 10
    snakemake(wf, "--unlock")
    snakemake(wf, "all_attacks")
    shards = sorted((wf / "data").glob("adversarial/*/*/fold*-part*.h5"))
    assert len(shards) == 2 * 2 * 2 * 2 and not list(wf.rglob("*.part"))
    for shard in shards:
        with open_shard(shard, "perturbation", "probs") as h5:
            assert h5["perturbation"].shape[0] == 10

    # 3. determinism: this plain `snakemake` run, killed twice and resumed, in two parts per
    # fold, ends with the same bytes as the session's uninterrupted `dvc repro` of the same
    # params and seed in one part per fold: parts merge, and nothing seeds by position
    snakemake(wf)
    assert ((wf / "reports/metrics_details.json").read_bytes()
            == (pipeline_run / "reports/metrics_details.json").read_bytes())
