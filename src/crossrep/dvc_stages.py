"""dvc.yaml, derived from the Snakemake workflow: one DAG, written once.

Each DVC stage runs Snakemake for a group of rules (``STAGES``); everything else about the
stage is read from the workflow's own job graph (``snakemake --forceall`` for the target
``all``, built in-process):

* params: the params.yaml keys the stage's jobs receive (every rule hands its step a
  sub-tree of params.yaml as ``params.config``), a section named whole when all of it is;
* deps: the rule files, each rule's script and the ``crossrep`` modules it imports (the
  same files as the rule's ``code`` version, see :mod:`crossrep.provenance`), and the
  outputs of other stages (or files outside the workflow, e.g. a folder dataset) that the
  stage's jobs read;
* outs: the folders (or files) its jobs write, kept in place (``persist``) so that
  Snakemake reruns only the jobs a change touches.

    python -m crossrep.dvc_stages              # rewrite dvc.yaml (make dvc.yaml)
    python -m crossrep.dvc_stages --check      # fail, naming each difference, if it drifted
    python -m crossrep.dvc_stages --configfile presets/x.yaml   # stages for a preset
"""
from __future__ import annotations

import argparse
import difflib
import os
import sys
from pathlib import Path

import yaml

from . import provenance
from .params import leaf_keys

# stage -> (Snakemake target, rules); the stage order is the pipeline's
STAGES = {
    "data": ("manifest", ["synthesize", "manifest"]),
    "segments": ("all_segments", ["segments"]),
    "spectrograms": ("all_spectrograms", ["spectrograms"]),
    "train": ("all_models", ["train", "predict_clean"]),
    "attack": ("all_attacks", ["adversarial", "eps_sweep"]),
    "transfer": ("all_transfer", ["transfer"]),
    "study": ("all_study", ["study_clips", "study_perturb", "study_score"]),
    "report": ("report", ["listening", "report"]),
}
# Keys that decide WHICH jobs a stage runs rather than what one job computes: the rule
# files read them at parse time (expand() over folds and attacks), so no job carries them.
SHAPE_KEYS = {
    "dataset.folds": ["segments", "spectrograms", "train", "attack", "transfer", "study", "report"],
    "attack.methods": ["attack", "transfer", "report"],
    "study.held_out": ["train", "study"],
}
# git-versioned (cache: false) so `dvc metrics diff` works across commits: the headline
# figures (DVC's metrics, one row per file) and every number behind them
METRICS = "reports/headline"
DETAILS = "reports/metrics_details.json"
PLOTS = [
    {"reports/plots/accuracy_vs_eps": {"x": "eps", "y": ["segments", "vote"], "x_label": "eps (dB)",
                                       "y_label": "2D CNN accuracy (fraction)", "title": "Accuracy against eps"}},
    {"reports/plots/training": {"x": "epoch", "y": ["loss", "val_loss"], "title": "Training history"}},
    {"reports/plots/study": {"x": "true_snr_db", "y": ["cnn2d_stft", "cnn2d_mel", "cnn1d"],
                             "x_label": "true SNR vs clean rebuild (dB)", "y_label": "target accuracy (fraction)",
                             "title": "Transfer study: each target's accuracy against true SNR"}},
]
HEADER = """\
# GENERATED from the Snakemake workflow by `python -m crossrep.dvc_stages` (`make dvc.yaml`);
# do not edit: change the rules, then regenerate (a test fails when this file drifts).
# One stage per step; each runs Snakemake for its own targets (target BEFORE
# --allowed-rules, so a stage never rebuilds another stage's outputs) and lists the params
# keys its rules read, the code they run and the upstream outputs they read. Outputs persist:
# DVC does not delete them before a stage reruns, so Snakemake reruns only the jobs whose
# params, code or inputs changed.
"""


def load_jobs(snakefile: Path, configfiles: list[Path], forceall: bool = True):
    """(workflow, every job of the DAG for the default target): with ``forceall`` every job
    of the workflow, one shard part per fold (the manifest checkpoint is to be rerun, so
    its parts are unknown); else the jobs still to run, their parts read from an existing
    manifest (bench/scale.py plans simulated collections so)."""
    from snakemake.api import ConfigSettings, DAGSettings, OutputSettings, ResourceSettings, SnakemakeApi

    from .dataset import PLAN_ONE_PART

    if forceall:
        os.environ[PLAN_ONE_PART] = "1"
    try:
        with SnakemakeApi(OutputSettings(quiet={"all"})) as api:
            workflow_api = api.workflow(ResourceSettings(), ConfigSettings(configfiles=configfiles),
                                        snakefile=snakefile, workdir=snakefile.parent)
            dag_api = workflow_api.dag(DAGSettings(forceall=forceall))
            workflow = workflow_api._workflow            # no public API exposes the job graph
            workflow.dag_settings = dag_api.dag_settings
            workflow._prepare_dag(forceall=forceall, ignore_incomplete=True, lock_warn_only=True)
            workflow._build_dag()
            return workflow, list(workflow.dag.jobs)
    finally:
        os.environ.pop(PLAN_ONE_PART, None)


def out_path(pattern: str, is_directory: bool) -> str:
    """The DVC out holding a rule's output: the folder before the first wildcard, at most two
    levels deep (``data/adversarial``), or the output itself."""
    if is_directory and "{" not in pattern:
        return pattern
    parts = Path(pattern).parts
    fixed = [p for p in parts[: next((i for i, p in enumerate(parts) if "{" in p), len(parts))]]
    return pattern if len(fixed) == len(parts) and len(parts) <= 2 else "/".join(fixed[:2])


def compress(keys: set[str], tree: dict, prefix: str = "") -> list[str]:
    """Dotted keys, a section named whole when every leaf of it in ``tree`` is in ``keys``."""
    out = []
    for name, value in tree.items():
        path = prefix + name
        if isinstance(value, dict) and value:
            leaves = {path + "." + k for k in leaf_keys(value)}
            if leaves <= keys:
                out.append(path)
            elif leaves & keys:
                out += compress(keys, value, path + ".")
        elif path in keys:
            out.append(path)
    return out


def derive(snakefile: Path, configfiles: list[Path]) -> dict:
    """The dvc.yaml mapping for the workflow at ``snakefile`` (paths relative to its folder)."""
    root = snakefile.parent.resolve()
    workflow, jobs = load_jobs(snakefile, configfiles)
    stage_of = {rule: stage for stage, (_, rules) in STAGES.items() for rule in rules}
    unstaged = {job.rule.name for job in jobs if job.rule.script} - set(stage_of)
    if unstaged:
        raise SystemExit(f"rules {sorted(unstaged)} run a script but belong to no stage in "
                         "crossrep.dvc_stages.STAGES; add them to one")

    def rel(path) -> str:
        path = Path(path).resolve()
        return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)

    outs = {stage: {} for stage in STAGES}           # stage -> {out path: None}
    for job in jobs:
        if job.rule.name in stage_of:
            for pattern in job.rule.output:
                outs[stage_of[job.rule.name]][out_path(str(pattern), pattern.is_directory)] = None

    def owner_out(stage, path):
        return next(o for o in outs[stage] if path == o or path.startswith(o.rstrip("/") + "/"))

    # the code the jobs run: the workflow's own src/ when it has one (see the Snakefile)
    package_dir = root / "src" / provenance.PACKAGE if (root / "src" / provenance.PACKAGE).is_dir() \
        else provenance.PACKAGE_DIR
    leaves = {stage: set() for stage in STAGES}
    deps = {stage: {} for stage in STAGES}
    external = {stage: set() for stage in STAGES}   # inputs no job makes, e.g. a folder dataset's files
    for job in sorted(jobs, key=lambda j: j.rule.name):
        stage = stage_of.get(job.rule.name)
        if stage is None:
            continue
        rule = job.rule
        script = (Path(rule.snakefile).parent / rule.script).resolve()
        if getattr(job.params, "code", None) != provenance.code_version(script, package_dir):
            raise SystemExit(f"rule {rule.name}: params.code must be code_version() of its own script {script}")
        code = [rule.snakefile, Path(rule.snakefile).parent / "common.smk",
                *provenance.imported_files(script, package_dir)]
        for path in code:
            deps[stage][rel(path)] = None
        if getattr(job.params, "config", None) is not None:
            leaves[stage].update(leaf_keys(job.params.config))
        produced = {str(f): dep for dep, files in workflow.dag.dependencies[job].items() for f in files}
        for f in job.input:
            producer = produced.get(str(f))
            if producer is None:
                external[stage].add(rel(f))
            elif stage_of.get(producer.rule.name) != stage:
                deps[stage][owner_out(stage_of[producer.rule.name], str(f))] = None
    for stage, paths in external.items():
        if paths:   # one dep for a whole dataset folder, not one per recording
            deps[stage][os.path.commonpath(sorted(paths)) if len(paths) > 1 else paths.pop()] = None

    for key, shaped in SHAPE_KEYS.items():
        for stage in shaped:
            leaves[stage].add(key)
    config = dict(workflow.config)
    overrides = [yaml.safe_load(Path(c).read_text()) or {} for c in configfiles]
    stages = {}
    for stage, (target, rules) in STAGES.items():
        present = [r for r in rules if r in {job.rule.name for job in jobs}]
        cmd = ["snakemake", "--cores", "all"]
        cmd += [arg for c in configfiles for arg in ("--configfile", rel(c))]
        # the target rule is allowed too: an aggregate whose inputs wait for the manifest
        # checkpoint is planned again after it, and a rule not allowed then plans nothing
        cmd += [target, "--allowed-rules", *present, *([target] if target not in present else [])]
        entry = {"cmd": " ".join(cmd), "deps": sorted(deps[stage], key=_dep_order)}
        params = _params_by_file(leaves[stage], config, overrides, [rel(c) for c in configfiles])
        if params:
            entry["params"] = params
        stage_outs = sorted(o for o in outs[stage] if o != METRICS)
        entry["outs"] = [{o: {"cache": False} if o == DETAILS else {"persist": True}} for o in stage_outs]
        if METRICS in outs[stage]:
            entry["metrics"] = [{METRICS: {"cache": False}}]
        stages[stage] = entry
    return {"stages": stages, "plots": PLOTS}


def _dep_order(path: str):
    """Data first (in pipeline order of appearance), then rule files, scripts, modules."""
    kind = 3 if path.startswith("src/") else 2 if path.startswith("workflow/") else 1
    return kind, path


def _params_by_file(keys: set[str], config: dict, overrides: list[dict], files: list[str]) -> list:
    """params.yaml keys as a list; keys a preset (--configfile) sets are listed under it."""
    by_file = {None: set()}
    for key in keys:
        owner = None
        for name, tree in zip(files, overrides, strict=True):
            if key in set(leaf_keys(tree)) or any(key.startswith(k + ".") for k in leaf_keys(tree)):
                owner = name
        by_file.setdefault(owner, set()).add(key)
    out = compress(by_file.pop(None), config)
    for name, tree in zip(files, overrides, strict=True):
        if by_file.get(name):
            out.append({name: compress(by_file[name], tree)})
    return out


def render(mapping: dict) -> str:
    body = yaml.safe_dump(mapping, sort_keys=False, width=110)
    plots_comment = "\n# `dvc plots show` / `dvc plots diff`: one panel per series file\nplots:"
    return HEADER + body.replace("\nplots:", plots_comment)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crossrep.dvc_stages", description=__doc__.split("\n")[0])
    parser.add_argument("--snakefile", type=Path, default=Path("Snakefile"))
    parser.add_argument("--configfile", type=Path, action="append", default=[],
                        help="a preset laid over params.yaml (as for snakemake --configfile)")
    parser.add_argument("--output", type=Path, default=None, help="default: dvc.yaml beside the Snakefile")
    parser.add_argument("--check", action="store_true", help="compare instead of writing; exit 1 on drift")
    args = parser.parse_args(argv)
    output = args.output or args.snakefile.parent / "dvc.yaml"
    text = render(derive(args.snakefile.resolve(), args.configfile))
    if not args.check:
        output.write_text(text)
        print(f"wrote {output}")
        return 0
    current = output.read_text() if output.exists() else ""
    if current == text:
        print(f"{output} matches the workflow")
        return 0
    diff = difflib.unified_diff(current.splitlines(), text.splitlines(), f"{output} (as is)",
                                f"{output} (derived from the workflow)", lineterm="")
    print("\n".join(diff))
    print(f"\n{output} has drifted from the workflow: run `make dvc.yaml` (python -m crossrep.dvc_stages)",
          file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
