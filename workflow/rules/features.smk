# Segment shards -> dB spectrogram shards, one per (representation, fold, part).


rule spectrograms:
    input:
        rules.segments.output[0],
    output:
        "data/spectrograms/{rep}/fold{fold}-part{part}.h5",
    log:
        "logs/spectrograms/{rep}/fold{fold}-part{part}.log",
    benchmark:
        "benchmarks/spectrograms/{rep}/fold{fold}-part{part}.tsv"
    conda:
        "../../envs/crossrep.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        config=lambda wc: config_of("spectrograms", rep=wc.rep),
        code=code_version("spectrograms"),
    message:
        "Computing {wildcards.rep} spectrograms of fold {wildcards.fold} part {wildcards.part}"
    script:
        "../scripts/spectrograms.py"


rule all_spectrograms:
    input:
        lambda wc: every_part("spectrograms", rep=REPRESENTATIONS),
