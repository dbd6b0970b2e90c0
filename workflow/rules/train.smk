# Per-(model, fold) training: fold k's model trains on the other folds, tested on fold k.


rule train:
    input:
        lambda wc: [model_input(wc.model, k) for k in FOLDS if k != int(wc.fold)],
    output:
        checkpoint="models/{model}/fold{fold}.pt",
        history="models/{model}/fold{fold}.history.csv",
    log:
        "logs/train/{model}/fold{fold}.log",
    benchmark:
        "benchmarks/train/{model}/fold{fold}.tsv"
    conda:
        "../../envs/crossrep.yaml"
    threads: config["train"]["threads"]
    resources:
        mem_mb=4000,
        runtime=120,
    params:
        config=lambda wc: config_of(*train_keys(wc.model)),
        code=code_version("train"),
    message:
        "Training {wildcards.model} for test fold {wildcards.fold}"
    script:
        "../scripts/train.py"


rule predict_clean:
    input:
        checkpoint=rules.train.output.checkpoint,
        source=lambda wc: model_input(wc.model, wc.fold),
    output:
        "data/predictions/{model}/fold{fold}.h5",
    log:
        "logs/predict/{model}/fold{fold}.log",
    benchmark:
        "benchmarks/predict/{model}/fold{fold}.tsv"
    conda:
        "../../envs/crossrep.yaml"
    threads: config["train"]["threads"]
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        code=code_version("predict_clean"),
    message:
        "Clean predictions of {wildcards.model} on test fold {wildcards.fold}"
    script:
        "../scripts/predict_clean.py"


rule all_models:
    input:
        expand(rules.train.output.checkpoint, model=MODELS, fold=FOLDS),
        expand(rules.predict_clean.output[0], model=MODELS, fold=FOLDS),
