# Waveforms rebuilt from clean and adversarial spectrograms; the 1D CNN's transfer
# predictions on them; per-segment SNRs.

CONDITIONS = ["clean"] + ATTACKS


wildcard_constraints:
    condition="clean|fgsm|bim|pgd",


def condition_source(rep, condition, fold):
    if condition == "clean":
        return f"data/spectrograms/{rep}/fold{fold}.h5"
    return f"data/adversarial/{rep}/{condition}/fold{fold}.h5"


rule reconstruct:
    input:
        segments="data/segments/fold{fold}.h5",
        source=lambda wc: condition_source(wc.rep, wc.condition, wc.fold),
    output:
        "data/reconstructed/{rep}/{condition}/fold{fold}.h5",
    params:
        spectrogram=lambda wc: spectrogram_params(wc.rep),
        sample_rate=SR,
        reconstruction={k: config["reconstruction"][k] for k in ("griffin_lim_iterations", "batch_size")},
        seed=config["seed"],
    log:
        "logs/reconstruct/{rep}/{condition}/fold{fold}.log",
    benchmark:
        "benchmarks/reconstruct/{rep}/{condition}/fold{fold}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
    message:
        "Rebuilding {wildcards.condition} {wildcards.rep} audio of fold {wildcards.fold}"
    conda:
        "../../envs/crossrep.yaml"
    script:
        "../scripts/reconstruct.py"


rule transfer:
    input:
        checkpoint="models/cnn1d/fold{fold}.pt",
        rebuilt="data/reconstructed/{rep}/{condition}/fold{fold}.h5",
        segments="data/segments/fold{fold}.h5",
        clean="data/reconstructed/{rep}/clean/fold{fold}.h5",
    output:
        predictions="data/transfer/{rep}/{condition}/fold{fold}.h5",
        snr="data/snr/{rep}/{condition}/fold{fold}.csv",
    log:
        "logs/transfer/{rep}/{condition}/fold{fold}.log",
    benchmark:
        "benchmarks/transfer/{rep}/{condition}/fold{fold}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    message:
        "1D CNN and SNR on rebuilt {wildcards.condition} {wildcards.rep} audio of fold {wildcards.fold}"
    conda:
        "../../envs/crossrep.yaml"
    script:
        "../scripts/transfer.py"


rule all_reconstructed:
    input:
        expand("data/reconstructed/{rep}/{condition}/fold{fold}.h5", rep=REPRESENTATIONS, condition=CONDITIONS,
               fold=FOLDS),


rule all_transfer:
    input:
        expand("data/transfer/{rep}/{condition}/fold{fold}.h5", rep=REPRESENTATIONS, condition=CONDITIONS,
               fold=FOLDS),
        expand("data/snr/{rep}/{condition}/fold{fold}.csv", rep=REPRESENTATIONS, condition=CONDITIONS, fold=FOLDS),
