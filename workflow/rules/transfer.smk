# Waveforms rebuilt from clean and adversarial spectrograms; the 1D CNN's transfer
# predictions on them; per-segment SNRs.


rule reconstruct:
    input:
        segments=rules.segments.output[0],
        source=lambda wc: condition_source(wc.rep, wc.condition, wc.fold, wc.part),
    output:
        "data/reconstructed/{rep}/{condition}/fold{fold}-part{part}.h5",
    log:
        "logs/reconstruct/{rep}/{condition}/fold{fold}-part{part}.log",
    benchmark:
        "benchmarks/reconstruct/{rep}/{condition}/fold{fold}-part{part}.tsv"
    conda:
        "../../envs/crossrep.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        config=lambda wc: config_of("reconstruct", rep=wc.rep),
        code=code_version("reconstruct"),
    message:
        "Rebuilding {wildcards.condition} {wildcards.rep} audio of fold {wildcards.fold} part {wildcards.part}"
    script:
        "../scripts/reconstruct.py"


rule transfer:
    input:
        checkpoint=output_of("train", "checkpoint", model="cnn1d"),
        rebuilt=rules.reconstruct.output[0],
        segments=rules.segments.output[0],
        clean=output_of("reconstruct", condition="clean"),
    output:
        predictions="data/transfer/{rep}/{condition}/fold{fold}-part{part}.h5",
        snr="data/snr/{rep}/{condition}/fold{fold}-part{part}.csv",
    log:
        "logs/transfer/{rep}/{condition}/fold{fold}-part{part}.log",
    benchmark:
        "benchmarks/transfer/{rep}/{condition}/fold{fold}-part{part}.tsv"
    conda:
        "../../envs/crossrep.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        code=code_version("transfer"),
    message:
        "1D CNN and SNR on rebuilt {wildcards.condition} {wildcards.rep} audio of fold {wildcards.fold} part {wildcards.part}"
    script:
        "../scripts/transfer.py"


rule all_reconstructed:
    input:
        lambda wc: every_part("reconstruct", rep=REPRESENTATIONS, condition=CONDITIONS),


rule all_transfer:
    input:
        lambda wc: every_part("transfer", "predictions", rep=REPRESENTATIONS, condition=CONDITIONS),
        lambda wc: every_part("transfer", "snr", rep=REPRESENTATIONS, condition=CONDITIONS),
