# Segment shards -> dB spectrogram shards, one per (representation, fold).


rule spectrograms:
    input:
        "data/segments/fold{fold}.h5",
    output:
        "data/spectrograms/{rep}/fold{fold}.h5",
    params:
        spectrogram=lambda wc: spectrogram_params(wc.rep),
        sample_rate=SR,
    log:
        "logs/spectrograms/{rep}/fold{fold}.log",
    benchmark:
        "benchmarks/spectrograms/{rep}/fold{fold}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
    message:
        "Computing {wildcards.rep} spectrograms of fold {wildcards.fold}"
    conda:
        "../../envs/crossrep.yaml"
    script:
        "../scripts/spectrograms.py"


rule all_spectrograms:
    input:
        expand("data/spectrograms/{rep}/fold{fold}.h5", rep=REPRESENTATIONS, fold=FOLDS),
