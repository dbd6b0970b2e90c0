# Waveforms rebuilt from clean and adversarial spectrograms, scored in memory: the 1D CNN's
# transfer predictions on them and per-segment SNRs (the rebuilt audio is not stored).


rule transfer:
    input:
        checkpoint=output_of("train", "checkpoint", model="cnn1d"),
        segments=rules.segments.output[0],
        clean=lambda wc: condition_source(wc.rep, "clean", wc.fold, wc.part),
        source=lambda wc: condition_source(wc.rep, wc.condition, wc.fold, wc.part),
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
        runtime=60,
    params:
        config=lambda wc: config_of("transfer", rep=wc.rep),
        code=code_version("transfer"),
    message:
        "Rebuilding {wildcards.condition} {wildcards.rep} audio of fold {wildcards.fold} part {wildcards.part}: 1D CNN and SNR"
    script:
        "../scripts/transfer.py"


rule all_transfer:
    input:
        lambda wc: every_part("transfer", "predictions", rep=REPRESENTATIONS, condition=CONDITIONS),
        lambda wc: every_part("transfer", "snr", rep=REPRESENTATIONS, condition=CONDITIONS),
