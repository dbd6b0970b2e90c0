# Audio in: (synthetic generation) -> manifest -> per-fold segment shards.

if config["dataset"]["kind"] == "synthetic":

    rule synthesize:
        output:
            directory(DATA_ROOT),
        log:
            "logs/synthesize.log",
        benchmark:
            "benchmarks/synthesize.tsv"
        conda:
            "../../envs/crossrep.yaml"
        threads: 1
        resources:
            mem_mb=1000,
            runtime=30,
        params:
            config=config_of("synthesize"),
            code=code_version("synthesize"),
        message:
            "Generating the synthetic genre dataset into {output}"
        script:
            "../scripts/synthesize.py"


# A checkpoint: the manifest assigns each fold's shard parts, and the per-part jobs that
# follow are planned from it (common.smk: parts).
checkpoint manifest:
    input:
        dataset_inputs(),
    output:
        "data/manifest.csv",
    log:
        "logs/manifest.log",
    benchmark:
        "benchmarks/manifest.tsv"
    conda:
        "../../envs/crossrep.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        config=config_of("manifest"),
        code=code_version("manifest"),
    message:
        "Scanning the dataset folder: clips, folds and skipped files into {output}"
    script:
        "../scripts/manifest.py"


rule segments:
    input:
        dataset_inputs(),
        manifest=rules.manifest.output[0],
    output:
        "data/segments/fold{fold}-part{part}.h5",
    log:
        "logs/segments/fold{fold}-part{part}.log",
    benchmark:
        "benchmarks/segments/fold{fold}-part{part}.tsv"
    conda:
        "../../envs/crossrep.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        config=config_of("segments"),
        code=code_version("segments"),
    message:
        "Cutting fold {wildcards.fold} part {wildcards.part} into segments"
    script:
        "../scripts/segments.py"


rule all_segments:
    input:
        lambda wc: every_part("segments"),
