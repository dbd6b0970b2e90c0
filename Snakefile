# crossrep: spectrogram adversarial attacks and their transfer to waveforms.
# Thin entry point: parameters, validation, rule files, and the final target.
# Run: snakemake --cores all            (a cluster: snakemake --profile profiles/slurm)
import os
import sys
from pathlib import Path

# Jobs must run the crossrep that this workflow's code versions hash (common.smk): its own
# src/ when it has one, in this process and in every job (so a conda env need not install
# it); envvars passes PYTHONPATH on to cluster jobs.
_src = Path(workflow.basedir) / "src"
_paths = [str(_src)] if (_src / "crossrep").is_dir() else []
sys.path[:0] = _paths
os.environ["PYTHONPATH"] = os.pathsep.join(
    _paths + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
)


envvars:
    "PYTHONPATH",


from crossrep import params as crossrep_params
from crossrep import runtime as crossrep_runtime


configfile: "params.yaml"


report: "workflow/report/workflow.rst"


# Stop before any job with a message naming the bad key (schema + cross-key rules).
crossrep_params.validate(config, source="params.yaml (with any --config overrides)")

# Every job's numeric kernels use compute.cpu_isa's instruction set: jobs inherit this
# environment (cluster jobs parse this file again), and their libraries read it as they load.
os.environ.update(crossrep_runtime.cpu_isa_environment(config["compute"]["cpu_isa"]))


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/features.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/attack.smk"
include: "workflow/rules/transfer.smk"
include: "workflow/rules/study.smk"
include: "workflow/rules/report.smk"


# Quick bookkeeping jobs run where Snakemake runs, not as cluster jobs.
localrules:
    all,
    synthesize,
    manifest,
    listening,
    report,


rule all:
    default_target: True
    input:
        rules.report.output,
