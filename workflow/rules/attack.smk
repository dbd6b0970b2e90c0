# Attacks on each test fold's spectrograms against that fold's 2D CNN, and the eps sweep.


rule adversarial:
    input:
        checkpoint=output_of("train", "checkpoint", model="cnn2d_{rep}"),
        spectrograms=rules.spectrograms.output[0],
    output:
        "data/adversarial/{rep}/{attack}/fold{fold}-part{part}.h5",
    log:
        "logs/adversarial/{rep}/{attack}/fold{fold}-part{part}.log",
    benchmark:
        "benchmarks/adversarial/{rep}/{attack}/fold{fold}-part{part}.tsv"
    conda:
        "../../envs/crossrep.yaml"
    threads: config["train"]["threads"]
    resources:
        mem_mb=3000,
        runtime=60,
    params:
        config=lambda wc: config_of("adversarial", attack=wc.attack),
        code=code_version("adversarial"),
    message:
        "{wildcards.attack} on the {wildcards.rep} spectrograms of fold {wildcards.fold} part {wildcards.part}"
    script:
        "../scripts/adversarial.py"


rule eps_sweep:
    input:
        checkpoint=output_of("train", "checkpoint", model="cnn2d_{rep}"),
        spectrograms=lambda wc: fold_outputs("spectrograms", rep=wc.rep, fold=wc.fold),
    output:
        "data/eps_sweep/{rep}/{attack}/fold{fold}.csv",
    log:
        "logs/eps_sweep/{rep}/{attack}/fold{fold}.log",
    benchmark:
        "benchmarks/eps_sweep/{rep}/{attack}/fold{fold}.tsv"
    conda:
        "../../envs/crossrep.yaml"
    threads: config["train"]["threads"]
    resources:
        mem_mb=3000,
        runtime=60,
    params:
        config=lambda wc: config_of("eps_sweep", attack=wc.attack),
        code=code_version("eps_sweep"),
    message:
        "{wildcards.attack} accuracy against eps on {wildcards.rep} fold {wildcards.fold}"
    script:
        "../scripts/eps_sweep.py"


rule all_attacks:
    input:
        lambda wc: every_part("adversarial", rep=REPRESENTATIONS, attack=ATTACKS),
        expand(rules.eps_sweep.output[0], rep=REPRESENTATIONS, attack=ATTACKS, fold=FOLDS),
