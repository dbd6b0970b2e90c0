# Audio in: (synthetic generation) -> manifest -> per-fold segment shards.

if config["dataset"]["kind"] == "synthetic":

    rule synthesize:
        output:
            directory(DATA_ROOT),
        params:
            dataset=config["dataset"],
            sample_rate=SR,
            seed=config["seed"],
        log:
            "logs/synthesize.log",
        benchmark:
            "benchmarks/synthesize.tsv"
        threads: 1
        resources:
            mem_mb=1000,
            runtime=30,
        message:
            "Generating the synthetic genre dataset into {output}"
        conda:
            "../../envs/crossrep.yaml"
        script:
            "../scripts/synthesize.py"


rule manifest:
    input:
        DATA_ROOT,
    output:
        "data/manifest.csv",
    params:
        dataset={k: v for k, v in config["dataset"].items() if k != "synthetic"},
        sample_rate=SR,
        segment=config["segment"],
        seed=config["seed"],
    log:
        "logs/manifest.log",
    benchmark:
        "benchmarks/manifest.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
    message:
        "Scanning {input}: clips, folds and skipped files into {output}"
    conda:
        "../../envs/crossrep.yaml"
    script:
        "../scripts/manifest.py"


rule segments:
    input:
        manifest="data/manifest.csv",
        root=DATA_ROOT,
    output:
        "data/segments/fold{fold}.h5",
    params:
        genres=config["dataset"]["genres"],
        clip_seconds=config["dataset"]["clip_seconds"],
        sample_rate=SR,
        segment=config["segment"],
    log:
        "logs/segments/fold{fold}.log",
    benchmark:
        "benchmarks/segments/fold{fold}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
    message:
        "Cutting fold {wildcards.fold} into 5 s segments"
    conda:
        "../../envs/crossrep.yaml"
    script:
        "../scripts/segments.py"


rule all_segments:
    input:
        expand("data/segments/fold{fold}.h5", fold=FOLDS),
