# Per-(model, fold) training: fold k's model trains on every part of the other folds;
# its clean predictions on fold k, one job per part.


rule train:
    input:
        lambda wc: [model_input(wc.model, k, p) for k in FOLDS if k != int(wc.fold) for p in parts(k)],
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
        config=lambda wc: config_of("train", model=wc.model),
        code=code_version("train"),
    message:
        "Training {wildcards.model} for test fold {wildcards.fold}"
    script:
        "../scripts/train.py"


rule predict_clean:
    input:
        checkpoint=rules.train.output.checkpoint,
        source=lambda wc: model_input(wc.model, wc.fold, wc.part),
    output:
        "data/predictions/{model}/fold{fold}-part{part}.h5",
    log:
        "logs/predict/{model}/fold{fold}-part{part}.log",
    benchmark:
        "benchmarks/predict/{model}/fold{fold}-part{part}.tsv"
    conda:
        "../../envs/crossrep.yaml"
    threads: config["train"]["threads"]
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        code=code_version("predict_clean"),
    message:
        "Clean predictions of {wildcards.model} on test fold {wildcards.fold} part {wildcards.part}"
    script:
        "../scripts/predict_clean.py"


rule all_models:
    input:
        expand(rules.train.output.checkpoint, model=TARGETS, fold=FOLDS),
        lambda wc: every_part("predict_clean", model=MODELS),
