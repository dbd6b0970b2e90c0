# crossrep: spectrogram adversarial attacks and their transfer to waveforms.
# Thin entry point: parameters, validation, rule files, and the final target.
# Run: snakemake --cores all            (a cluster: snakemake --profile profiles/slurm)
from crossrep import params as crossrep_params


configfile: "params.yaml"


report: "workflow/report/workflow.rst"


# Stop before any job with a message naming the bad key (schema + cross-key rules).
crossrep_params.validate(config, source="params.yaml (with any --config overrides)")


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/features.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/attack.smk"
include: "workflow/rules/reconstruct.smk"
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
