# Listening samples per fold, then metrics.json, Tables III-VII, figures and the page.


rule listening:
    input:
        segments=lambda wc: fold_outputs("segments", fold=wc.fold),
        sources=lambda wc: flat(listening_sources(wc.fold)),
    output:
        audio=directory("reports/audio/fold{fold}"),
        samples="reports/audio/fold{fold}.json",
    log:
        "logs/listening/fold{fold}.log",
    conda:
        "../../envs/crossrep.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        sources=lambda wc: listening_sources(wc.fold),
        config=config_of("audio.sample_rate", "reconstruction.listening_tracks_per_genre"),
        code=code_version("listening"),
    message:
        "Writing listening samples of fold {wildcards.fold}"
    script:
        "../scripts/listening.py"


TABLES = [3, 4, 5, 6, 7]


rule report:
    input:
        lambda wc: flat(report_results()),
    output:
        metrics=report("reports/metrics.json", caption="../report/metrics.rst", category="Metrics"),
        tables=expand("reports/tables/table{n}.md", n=TABLES),
        table_csvs=[
            report(
                f"reports/tables/table{n}.csv",
                caption="../report/tables.rst",
                category="Tables",
                labels={"table": f"Table {n}"},
            )
            for n in TABLES
        ],
        study_table=report(
            "reports/tables/study_matched.csv",
            caption="../report/study.rst",
            category="Tables",
            labels={"table": "Transfer study at matched true SNR"},
        ),
        beats_noise_table=report(
            "reports/tables/study_beats_noise.csv",
            caption="../report/study_beats_noise.rst",
            category="Tables",
            labels={"table": "Transfer study: where the attack first beats the noise"},
        ),
        page="reports/index.html",
        figures=report(
            directory("reports/figures"), patterns=["{name}.png"], caption="../report/figures.rst", category="Figures"
        ),
        plots=directory("reports/plots"),
        study_audio=directory("reports/study_audio"),
    log:
        "logs/report.log",
    conda:
        "../../envs/crossrep.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        results=lambda wc: report_results(),
        config=config_of("dataset.kind", "attack.methods", "study.matched_snr_db", "study.listening_clips"),
        code=code_version("report"),
    message:
        "Writing metrics.json, Tables III-VII, figures and the listening page"
    script:
        "../scripts/report.py"
