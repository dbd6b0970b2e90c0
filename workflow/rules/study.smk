# The transfer study: whole test clips, each source's attacks and their controls over its
# eps sweep, rebuilt into audio (study_perturb), scored by every target model (study_score);
# one job per study part (a fold's studied clips cut on batch boundaries, at most
# shards.max_segments segments' worth). With study.keep_audio: listening, study_perturb
# scores its clips itself while their audio is in memory and keeps only the listening
# clips' audio (no study_score rule): what a collection whose shipped audio would not fit
# on disk needs; retraining a target then perturbs again.
SCORES = "data/study/scores/{source}/fold{fold}-part{part}.h5"


rule study_clips:
    input:
        dataset_inputs(),
        manifest=rules.manifest.output[0],
    output:
        "data/study/clips/fold{fold}-part{part}.h5",
    log:
        "logs/study/clips/fold{fold}-part{part}.log",
    benchmark:
        "benchmarks/study/clips/fold{fold}-part{part}.tsv"
    conda:
        "../../envs/crossrep.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        config=config_of("study_clips"),
        code=code_version("study_clips"),
    message:
        "Choosing the studied whole clips of fold {wildcards.fold} part {wildcards.part}"
    script:
        "../scripts/study_clips.py"


rule study_perturb:
    input:
        clips=rules.study_clips.output[0],
        checkpoints=lambda wc: [
            output_of("train", "checkpoint", model=m, fold=wc.fold)
            for m in source_models(wc.source, config["study"]["sources"][wc.source])
        ],
        targets=expand(output_of("train", "checkpoint"), model=TARGETS if SCORED_IN_MEMORY else [], allow_missing=True),
    output:
        audio="data/study/audio/{source}/fold{fold}-part{part}.h5",
        quality="data/study/quality/{source}/fold{fold}-part{part}.csv",
        scores=[SCORES] if SCORED_IN_MEMORY else [],
    log:
        "logs/study/perturb/{source}/fold{fold}-part{part}.log",
    benchmark:
        "benchmarks/study/perturb/{source}/fold{fold}-part{part}.tsv"
    conda:
        "../../envs/crossrep.yaml"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=120,
    params:
        targets=TARGETS if SCORED_IN_MEMORY else [],
        config=lambda wc: config_of("study_perturb", source=wc.source),
        code=code_version("study_perturb"),
    message:
        "Study: {wildcards.source} attacks and controls over the eps sweep, rebuilt clips of fold {wildcards.fold} part {wildcards.part}"
    script:
        "../scripts/study_perturb.py"


if not SCORED_IN_MEMORY:

    rule study_score:
        input:
            clips=rules.study_clips.output[0],
            rebuilt=rules.study_perturb.output.audio,
            checkpoints=expand(output_of("train", "checkpoint"), model=TARGETS, allow_missing=True),
        output:
            scores=SCORES,
        log:
            "logs/study/score/{source}/fold{fold}-part{part}.log",
        benchmark:
            "benchmarks/study/score/{source}/fold{fold}-part{part}.tsv"
        conda:
            "../../envs/crossrep.yaml"
        threads: 1
        resources:
            mem_mb=3000,
            runtime=60,
        params:
            targets=TARGETS,
            config=config_of("study_score"),
            code=code_version("study_score"),
        message:
            "Study: every model on the rebuilt {wildcards.source} clips of fold {wildcards.fold} part {wildcards.part}"
        script:
            "../scripts/study_score.py"


rule all_study:
    input:
        lambda wc: every_part(SCORES_RULE, "scores", studied=True, source=STUDY_SOURCES),
        lambda wc: every_part("study_perturb", "quality", studied=True, source=STUDY_SOURCES),
