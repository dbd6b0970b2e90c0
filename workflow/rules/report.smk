# Listening samples per fold, then the metrics, Tables III-VII, figures and the page.


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
        config=config_of("listening"),
        code=code_version("listening"),
    message:
        "Writing listening samples of fold {wildcards.fold}"
    script:
        "../scripts/listening.py"


rule report:
    input:
        lambda wc: flat(report_results()),
    output:
        details=report("reports/metrics_details.json", caption="../report/metrics.rst", category="Metrics"),
        headline=directory("reports/headline"),
        tables=[f"reports/tables/{table.stem}.md" for table in report_files.TABLES],
        table_csvs=[
            report(
                f"reports/tables/{table.stem}.csv",
                caption=f"../report/{table.caption}",
                category="Tables",
                labels={"table": table.title},
            )
            for table in report_files.TABLES
        ],
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
        config=config_of("report"),
        code=code_version("report"),
    message:
        "Writing the metrics, Tables III-VII, figures and the listening page"
    script:
        "../scripts/report.py"
