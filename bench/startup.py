"""Job start-up against job work: what each rule's job pays before its step does anything.

Per rule, a fresh Python process does what a Snakemake `script:` job does before the step
runs (import Snakemake's preamble modules, then the rule's `crossrep.steps` module) and is
timed by its CPU seconds (median of --repeats). Beside it, the floor: a fresh process that
imports only torch when the step needs torch, else a bare interpreter. With a finished
run's `benchmarks/` (the default: this checkout's, after `make run`), each rule's start-up
is multiplied by its job count and set against the CPU seconds the run's jobs took: the
start-up share of the run, and its ratio to the floor (issue 13: share <= 10 %, or within
1.2x of the floor).

    python bench/startup.py                  # this checkout's last run
    python bench/startup.py --run /path/to/a/finished/run --repeats 5
"""
from __future__ import annotations

import argparse
import re
import resource
import statistics
import subprocess
import sys
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
PREAMBLE = "import pickle, snakemake.logging, snakemake.iocontainers, snakemake.script"
RULE = re.compile(r"^(?:rule|checkpoint) (\w+):\n(.*?)(?=^(?:rule|checkpoint) |\Z)", re.M | re.S)


def script_rules() -> dict[str, dict]:
    """{rule: {step: crossrep.steps module, benchmark: glob of its benchmark files}} from the rule files."""
    rules = {}
    for smk in sorted((REPO / "workflow/rules").glob("*.smk")):
        for name, body in RULE.findall(smk.read_text()):
            script = re.search(r'script:\s*"\.\./scripts/(\w+)\.py"', body)
            bench = re.search(r'benchmark:\s*"([^"]+)"', body)
            if not script:
                continue
            source = (REPO / "workflow/scripts" / f"{script.group(1)}.py").read_text()
            step = re.search(r"from crossrep\.steps import (\w+)", source).group(1)
            rules[name] = dict(step=f"crossrep.steps.{step}",
                               benchmark=re.sub(r"\{[^}]+\}", "*", bench.group(1)) if bench else None)
    return rules


def cpu_seconds(code: str, repeats: int) -> float:
    """Median CPU seconds (user + system) of a fresh interpreter running ``code``."""
    times = []
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        times.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(times)


def needs_torch(module: str) -> bool:
    code = f"import sys, {module}; print('torch' in sys.modules)"
    return subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True,
                          cwd=REPO).stdout.strip() == "True"


def run_jobs(run: Path, pattern: str | None) -> tuple[int, float]:
    """(jobs, their CPU seconds) of one rule in a finished run's benchmark records."""
    if pattern is None:
        return 0, 0.0
    files = sorted(run.glob(pattern))
    cpu = sum(float(pd.read_csv(f, sep="\t")["cpu_time"].iloc[0]) for f in files)
    return len(files), cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, default=REPO, help="a finished run (its benchmarks/ folder)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    bare = cpu_seconds("pass", args.repeats)
    torch_floor = cpu_seconds("import torch", args.repeats)
    rows = []
    for rule, info in script_rules().items():
        startup = cpu_seconds(f"{PREAMBLE}; import {info['step']}", args.repeats)
        floor = torch_floor if needs_torch(info["step"]) else bare
        jobs, cpu = run_jobs(args.run, info["benchmark"])
        rows.append(dict(rule=rule, startup_s=startup, floor_s=floor, jobs=jobs, job_cpu_s=cpu))
    table = pd.DataFrame(rows).set_index("rule")
    print(f"CPU seconds of a fresh interpreter: bare {bare:.2f}, importing torch {torch_floor:.2f}\n")
    print(table.round(2).to_string())
    ran = table[table["jobs"] > 0]
    if ran.empty:
        print(f"\nno benchmark records under {args.run}/benchmarks: `make run` first (or --run DIR) for the shares")
        return
    total = ran["job_cpu_s"].sum()
    startup = (ran["startup_s"] * ran["jobs"]).sum()
    floor = (ran["floor_s"] * ran["jobs"]).sum()
    print(f"\n{int(ran['jobs'].sum())} jobs, {total:.0f} CPU s in all (benchmark records of {args.run})")
    print(f"start-up: {startup:.0f} s = {startup / total:.1%} of the run's job CPU (target <= 10 %)")
    print(f"floor (torch's import where needed): {floor:.0f} s = {floor / total:.1%}; "
          f"start-up / floor = {startup / floor:.2f}x (target <= 1.2x)")


if __name__ == "__main__":
    main()
