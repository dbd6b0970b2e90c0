"""Cost of a parameter change: wall time of a full run vs the rerun after changing one
attack parameter, and the jobs Snakemake reran per rule.

The baseline is the full run of the same configuration, measured in the same invocation
(fresh folder, the repository's Snakefile, `--cores all`). Target: the rerun takes
<= 25 % of the full run's wall time and runs no training job.

    python bench/rerun.py                     # the default params.yaml (about 10 min on 2 cores)
    python bench/rerun.py --tiny              # a tiny configuration, for a quick look
    python bench/rerun.py --set attack.bim.eps=0.5
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository's tools/
from tools.jobstats import job_stats  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TARGET = 0.25


def run(workdir: Path) -> tuple[float, dict[str, int]]:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    start = time.perf_counter()
    proc = subprocess.run(["snakemake", "--cores", "all", "--snakefile", str(REPO / "Snakefile"),
                           "--directory", str(workdir)], env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"snakemake failed in {workdir}:\n{proc.stderr[-3000:]}")
    return seconds, job_stats(proc.stderr + proc.stdout)


def set_key(params: dict, assignment: str) -> str:
    """Apply ``a.b.c=value`` (value parsed as YAML) to ``params``; returns the old value."""
    key, _, value = assignment.partition("=")
    *parents, leaf = key.split(".")
    node = params
    for part in parents:
        node = node[part]
    if leaf not in node:
        sys.exit(f"--set {assignment}: params.yaml has no key {key}")
    old, node[leaf] = node[leaf], yaml.safe_load(value)
    return old


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", default="attack.fgsm.eps=0.5", help="the change to rerun after (key=value)")
    parser.add_argument("--tiny", action="store_true", help="3 clips per genre, tiny models, 2 epochs")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    if args.tiny:
        params["dataset"]["synthetic"]["tracks_per_genre"] = 3
        params["model"]["cnn2d"].update(widths=[2, 2, 4, 4], dense=8)
        params["model"]["cnn1d"].update(gammatone_filters=4, widths=[4, 4, 4, 4], dense=8)
        params["train"].update(epochs=2, patience=2)
    workdir = Path(tempfile.mkdtemp(prefix="crossrep-rerun-"))
    (workdir / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))

    full_s, full_jobs = run(workdir)
    old = set_key(params, args.set)
    (workdir / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    rerun_s, rerun_jobs = run(workdir)

    print(f"configuration: {'tiny' if args.tiny else 'params.yaml'}, {os.cpu_count()} cores, work folder {workdir}")
    print(f"change: {args.set} (was {old})")
    print(f"{'rule':<16}{'full run':>10}{'rerun':>8}")
    for rule in full_jobs:
        print(f"{rule:<16}{full_jobs[rule]:>10}{rerun_jobs.get(rule, 0):>8}")
    print(f"{'jobs':<16}{sum(full_jobs.values()):>10}{sum(rerun_jobs.values()):>8}")
    ratio = rerun_s / full_s
    print(f"wall time: full run {full_s:.1f} s, rerun {rerun_s:.1f} s -> rerun/full = {ratio:.3f} "
          f"(target <= {TARGET}: {'met' if ratio <= TARGET else 'MISSED'})")
    training = rerun_jobs.get("train", 0)
    print(f"training jobs in the rerun: {training} (target 0: {'met' if training == 0 else 'MISSED'})")
    if not args.keep:
        shutil.rmtree(workdir)


if __name__ == "__main__":
    main()
