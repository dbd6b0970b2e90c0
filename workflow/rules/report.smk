# Listening samples per fold, then metrics.json, Tables III-VII, figures and the page.


def listening_sources(fold):
    """For one fold: the shards behind each version of a listening sample."""
    sources = {"original": {"cnn1d": f"data/predictions/cnn1d/fold{fold}.h5"}}
    for rep in REPRESENTATIONS:
        for condition in CONDITIONS:
            sources[f"{rep}/{condition}"] = {
                "rebuilt": f"data/reconstructed/{rep}/{condition}/fold{fold}.h5",
                "cnn2d": f"data/predictions/cnn2d_{rep}/fold{fold}.h5" if condition == "clean"
                else f"data/adversarial/{rep}/{condition}/fold{fold}.h5",
                "cnn1d": f"data/transfer/{rep}/{condition}/fold{fold}.h5",
                "snr": f"data/snr/{rep}/{condition}/fold{fold}.csv",
            }
    return sources


def flat(nested):
    return [v for x in nested.values() for v in (flat(x) if isinstance(x, dict) else [x])]


def report_results():
    """Every per-fold result the report reads, by kind."""
    by_fold = lambda pattern, **kw: {k: pattern.format(fold=k, **kw) for k in FOLDS}
    return {
        "clean": {m: by_fold("data/predictions/{m}/fold{fold}.h5", m=m) for m in MODELS},
        "history": {m: by_fold("models/{m}/fold{fold}.history.csv", m=m) for m in MODELS},
        "adversarial": {r: {a: by_fold("data/adversarial/{r}/{a}/fold{fold}.h5", r=r, a=a) for a in ATTACKS}
                        for r in REPRESENTATIONS},
        "transfer": {r: {c: by_fold("data/transfer/{r}/{c}/fold{fold}.h5", r=r, c=c) for c in CONDITIONS}
                     for r in REPRESENTATIONS},
        "snr": {r: {c: by_fold("data/snr/{r}/{c}/fold{fold}.csv", r=r, c=c) for c in CONDITIONS}
                for r in REPRESENTATIONS},
        "eps_sweep": {r: {a: by_fold("data/eps_sweep/{r}/{a}/fold{fold}.csv", r=r, a=a) for a in ATTACKS}
                      for r in REPRESENTATIONS},
        "segments": by_fold("data/segments/fold{fold}.h5"),
        "listening": by_fold("reports/audio/fold{fold}.json"),
        "spectrograms": {r: by_fold("data/spectrograms/{r}/fold{fold}.h5", r=r) for r in REPRESENTATIONS},
        "manifest": "data/manifest.csv",
    }


rule listening:
    input:
        segments="data/segments/fold{fold}.h5",
        sources=lambda wc: flat(listening_sources(wc.fold)),
    output:
        audio=directory("reports/audio/fold{fold}"),
        samples="reports/audio/fold{fold}.json",
    params:
        sources=lambda wc: listening_sources(wc.fold),
        per_genre=config["reconstruction"]["listening_tracks_per_genre"],
        sample_rate=SR,
    log:
        "logs/listening/fold{fold}.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    message:
        "Writing listening samples of fold {wildcards.fold}"
    conda:
        "../../envs/crossrep.yaml"
    script:
        "../scripts/listening.py"


TABLES = [3, 4, 5, 6, 7]


rule report:
    input:
        flat(report_results()),
    output:
        metrics=report("reports/metrics.json", caption="../report/metrics.rst", category="Metrics"),
        tables=expand("reports/tables/table{n}.md", n=TABLES),
        table_csvs=[
            report(f"reports/tables/table{n}.csv", caption="../report/tables.rst", category="Tables",
                   labels={"table": f"Table {n}"})
            for n in TABLES
        ],
        page="reports/index.html",
        figures=report(directory("reports/figures"), patterns=["{name}.png"],
                       caption="../report/figures.rst", category="Figures"),
        plots=directory("reports/plots"),
    params:
        results=report_results(),
        dataset=config["dataset"]["kind"],
    log:
        "logs/report.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    message:
        "Writing metrics.json, Tables III-VII, figures and the listening page"
    conda:
        "../../envs/crossrep.yaml"
    script:
        "../scripts/report.py"
