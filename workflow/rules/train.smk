# Per-(model, fold) training: fold k's model trains on the other folds, tested on fold k.

MODELS = ["cnn2d_stft", "cnn2d_mel", "cnn1d"]


wildcard_constraints:
    model="|".join(MODELS),


def model_input(model, fold):
    """The shard a model reads for one fold: spectrograms for 2D CNNs, segments for the 1D CNN."""
    if model == "cnn1d":
        return f"data/segments/fold{fold}.h5"
    return f"data/spectrograms/{model.split('_')[1]}/fold{fold}.h5"


rule train:
    input:
        lambda wc: [model_input(wc.model, k) for k in FOLDS if k != int(wc.fold)],
    output:
        checkpoint="models/{model}/fold{fold}.pt",
        history="models/{model}/fold{fold}.history.csv",
    params:
        genres=config["dataset"]["genres"],
        model=lambda wc: {k: config["model"][k] for k in ("cnn1d" if wc.model == "cnn1d" else "cnn2d",)},
        # threads change speed, not results: not a rerun trigger
        train={k: v for k, v in config["train"].items() if k != "threads"},
        seed=config["seed"],
        sample_rate=SR,
        # recorded in the checkpoint so it can classify a raw audio file on its own
        inputs=lambda wc: {"segment": config["segment"],
                           "spectrogram": None if wc.model == "cnn1d" else spectrogram_params(wc.model[6:])},
    log:
        "logs/train/{model}/fold{fold}.log",
    benchmark:
        "benchmarks/train/{model}/fold{fold}.tsv"
    threads: config["train"]["threads"]
    resources:
        mem_mb=4000,
        runtime=120,
    message:
        "Training {wildcards.model} for test fold {wildcards.fold}"
    conda:
        "../../envs/crossrep.yaml"
    script:
        "../scripts/train.py"


rule predict_clean:
    input:
        checkpoint="models/{model}/fold{fold}.pt",
        source=lambda wc: model_input(wc.model, wc.fold),
    output:
        "data/predictions/{model}/fold{fold}.h5",
    log:
        "logs/predict/{model}/fold{fold}.log",
    benchmark:
        "benchmarks/predict/{model}/fold{fold}.tsv"
    threads: config["train"]["threads"]
    resources:
        mem_mb=2000,
        runtime=30,
    message:
        "Clean predictions of {wildcards.model} on test fold {wildcards.fold}"
    conda:
        "../../envs/crossrep.yaml"
    script:
        "../scripts/predict.py"


rule all_models:
    input:
        expand("models/{model}/fold{fold}.pt", model=MODELS, fold=FOLDS),
        expand("data/predictions/{model}/fold{fold}.h5", model=MODELS, fold=FOLDS),
