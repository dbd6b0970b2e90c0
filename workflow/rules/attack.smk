# Attacks on each test fold's spectrograms against that fold's 2D CNN, and the eps sweep.

ATTACKS = config["attack"]["methods"]


def attack_params(method):
    """The attack keys one method depends on (FGSM ignores BIM's step, and so on)."""
    a = config["attack"]
    return {"label": a["label"], "targeted": a["targeted"], "clip_to_range": a["clip_to_range"],
            "batch_size": a["batch_size"], method: a[method]}


wildcard_constraints:
    attack="fgsm|bim|pgd",


rule adversarial:
    input:
        checkpoint="models/cnn2d_{rep}/fold{fold}.pt",
        spectrograms="data/spectrograms/{rep}/fold{fold}.h5",
    output:
        "data/adversarial/{rep}/{attack}/fold{fold}.h5",
    params:
        attack=lambda wc: attack_params(wc.attack),
        seed=config["seed"],
    log:
        "logs/adversarial/{rep}/{attack}/fold{fold}.log",
    benchmark:
        "benchmarks/adversarial/{rep}/{attack}/fold{fold}.tsv"
    threads: config["train"]["threads"]
    resources:
        mem_mb=3000,
        runtime=60,
    message:
        "{wildcards.attack} on the {wildcards.rep} spectrograms of fold {wildcards.fold}"
    conda:
        "../../envs/crossrep.yaml"
    script:
        "../scripts/adversarial.py"


rule eps_sweep:
    input:
        checkpoint="models/cnn2d_{rep}/fold{fold}.pt",
        spectrograms="data/spectrograms/{rep}/fold{fold}.h5",
    output:
        "data/eps_sweep/{rep}/{attack}/fold{fold}.csv",
    params:
        attack=lambda wc: attack_params(wc.attack),
        eps=config["attack"]["eps_sweep"],
        tracks_per_genre=config["attack"]["sweep_tracks_per_genre"],
        seed=config["seed"],
    log:
        "logs/eps_sweep/{rep}/{attack}/fold{fold}.log",
    benchmark:
        "benchmarks/eps_sweep/{rep}/{attack}/fold{fold}.tsv"
    threads: config["train"]["threads"]
    resources:
        mem_mb=3000,
        runtime=60,
    message:
        "{wildcards.attack} accuracy against eps on {wildcards.rep} fold {wildcards.fold}"
    conda:
        "../../envs/crossrep.yaml"
    script:
        "../scripts/eps_sweep.py"


rule all_attacks:
    input:
        expand("data/adversarial/{rep}/{attack}/fold{fold}.h5", rep=REPRESENTATIONS, attack=ATTACKS, fold=FOLDS),
        expand("data/eps_sweep/{rep}/{attack}/fold{fold}.csv", rep=REPRESENTATIONS, attack=ATTACKS, fold=FOLDS),
