# Shared names and helpers for the rule files. Every rule passes its script ONLY the
# params.yaml keys its step reads (`params: config=config_of("name", ...)`, the keys that
# crossrep.step_keys lists, a sub-tree of params.yaml) and the version of the code the
# script runs (`params: code=...`):
# Snakemake reruns a job when either changes, and `python -m crossrep.dvc_stages`
# derives dvc.yaml's stages from the same rules.
import functools
import os
from pathlib import Path

import crossrep
from crossrep import dataset, provenance, report_files, step_keys
from crossrep.params import select
from crossrep.study import source_models
from crossrep.study import clips as study_clips

FOLDS = list(range(1, config["dataset"]["folds"] + 1))
REPRESENTATIONS = list(crossrep.REPRESENTATIONS)
MODELS = list(crossrep.MODELS)
HELD_OUT = list(config["study"]["held_out"])  # trained per fold, scored in the study, never attacked
TARGETS = MODELS + HELD_OUT  # every model the study scores
ATTACKS = config["attack"]["methods"]
CONDITIONS = ["clean"] + ATTACKS
DATA_ROOT = config["dataset"]["root"]
STUDY_SOURCES = list(config["study"]["sources"])
# study.keep_audio: listening scores the study's clips inside study_perturb (see study.smk)
SCORED_IN_MEMORY = config["study"]["keep_audio"] == "listening"
SCORES_RULE = "study_perturb" if SCORED_IN_MEMORY else "study_score"
SCRIPTS = Path(workflow.basedir) / "workflow" / "scripts"
# the crossrep the jobs run: this workflow's own src/ (see the Snakefile), else the installed one
PACKAGE_DIR = Path(workflow.basedir) / "src" / "crossrep"
if not PACKAGE_DIR.is_dir():
    PACKAGE_DIR = provenance.PACKAGE_DIR


wildcard_constraints:
    fold=r"\d+",
    part=r"\d+",
    rep="|".join(crossrep.REPRESENTATIONS),
    model="|".join(crossrep.FAMILY),
    attack="|".join(crossrep.ATTACK_METHODS),
    condition="|".join(("clean",) + crossrep.ATTACK_METHODS),
    source="|".join(STUDY_SOURCES),


def dataset_inputs():
    """What reading the dataset depends on. A folder dataset: every file under its genre
    folders, so a recording added, removed or changed reruns the manifest and what follows
    (a folder's own mtime does not change when a file deep inside it does). The synthetic
    dataset: the folder the synthesize rule writes."""
    if config["dataset"]["kind"] == "synthetic":
        return [DATA_ROOT]
    return dataset.files(DATA_ROOT, config["dataset"]["genres"])


@functools.lru_cache
def _manifest_parts(manifest, mtime_ns):
    """({fold: shard parts}, {fold: study parts}) of one manifest version."""
    table = dataset.read_manifest(manifest)
    per_part = study_clips.clips_per_part(config)
    return dataset.fold_parts(table), study_clips.study_parts(table, config["study"]["clips_per_genre"], per_part)


def parts(fold, studied=False):
    """The shard parts (1, 2, ...) of one fold, as the manifest assigns them
    (``shards.max_segments``); ``studied``: the study's parts instead (its chosen clips cut
    on batch boundaries, see crossrep.study.clips.part_clips).
    Known once the manifest checkpoint has run: Snakemake plans the per-part jobs after it.
    crossrep.dvc_stages derives dvc.yaml from the rules, not from a dataset, and plans one
    part per fold (``dataset.PLAN_ONE_PART``)."""
    if os.environ.get(dataset.PLAN_ONE_PART):
        return [1]
    manifest = checkpoints.manifest.get().output[0]
    return _manifest_parts(manifest, os.stat(manifest).st_mtime_ns)[int(studied)].get(int(fold), [])


def fold_outputs(rule, name=0, *, fold, studied=False, **wildcards):
    """A per-part rule's outputs for every part of one fold, in part order (the fold's rows);
    ``studied``: a study rule, over the study's parts."""
    return [output_of(rule, name, fold=fold, part=p, **wildcards) for p in parts(fold, studied)]


def every_part(rule, name=0, studied=False, **lists):
    """A per-part rule's outputs over every fold and part and every combination of ``lists``."""
    return [f for k in FOLDS for p in parts(k, studied) for f in expand(output_of(rule, name, fold=k, part=p), **lists)]


def config_of(name, **wildcards):
    """The sub-tree of params.yaml that rule ``name`` hands its step (the keys that
    crossrep.step_keys lists for it, with these wildcards)."""
    return select(config, step_keys.keys(name, config, **wildcards))


def code_version(script):
    """Hash of workflow/scripts/<script>.py and the crossrep modules it imports."""
    return provenance.code_version(SCRIPTS / f"{script}.py", PACKAGE_DIR)


def output_of(rule, name=0, **wildcards):
    """Another rule's output pattern with these wildcards filled in (the rest stay wildcards).
    Called lazily (input functions) or after the rule is defined."""
    outputs = getattr(rules, rule).output
    pattern = outputs[name] if isinstance(name, int) else getattr(outputs, name)
    return expand(pattern, allow_missing=True, **{k: str(v) for k, v in wildcards.items()})[0]


def model_input(model, fold, part):
    """The shard a model reads for one fold part: its spectrogram's, or the segments (waveform models)."""
    rep = crossrep.representation_of(model)
    if rep is None:
        return output_of("segments", fold=fold, part=part)
    return output_of("spectrograms", rep=rep, fold=fold, part=part)


def condition_source(rep, condition, fold, part):
    if condition == "clean":
        return output_of("spectrograms", rep=rep, fold=fold, part=part)
    return output_of("adversarial", rep=rep, attack=condition, fold=fold, part=part)


def listening_sources(fold):
    """For one fold: the shards behind each version of a listening sample (each a list of
    the fold's parts, in order)."""
    sources = {"original": {"cnn1d": fold_outputs("predict_clean", model="cnn1d", fold=fold)}}
    for rep in REPRESENTATIONS:
        for condition in CONDITIONS:
            sources[f"{rep}/{condition}"] = {
                "spectrograms": fold_outputs("spectrograms", rep=rep, fold=fold),
                "cnn2d": (
                    fold_outputs("predict_clean", model=f"cnn2d_{rep}", fold=fold)
                    if condition == "clean"
                    else fold_outputs("adversarial", rep=rep, attack=condition, fold=fold)
                ),
                "cnn1d": fold_outputs("transfer", "predictions", rep=rep, condition=condition, fold=fold),
                "snr": fold_outputs("transfer", "snr", rep=rep, condition=condition, fold=fold),
            }
    return sources


def flat(nested):
    """Every path in a tree of dicts and lists (e.g. a fold's parts)."""
    values = nested.values() if isinstance(nested, dict) else nested
    return [v for x in values for v in (flat(x) if isinstance(x, (dict, list)) else [x])]


def report_results():
    """Every per-fold result the report reads, by kind: per fold a path, or for per-part
    rules the list of the fold's parts."""

    def by_fold(rule, name=0, **wildcards):
        return {k: output_of(rule, name, fold=k, **wildcards) for k in FOLDS}

    def by_part(rule, name=0, studied=False, **wildcards):
        return {k: fold_outputs(rule, name, fold=k, studied=studied, **wildcards) for k in FOLDS}

    return {
        "clean": {m: by_part("predict_clean", model=m) for m in MODELS},
        "history": {m: by_fold("train", "history", model=m) for m in MODELS},
        "adversarial": {r: {a: by_part("adversarial", rep=r, attack=a) for a in ATTACKS} for r in REPRESENTATIONS},
        "transfer": {
            r: {c: by_part("transfer", "predictions", rep=r, condition=c) for c in CONDITIONS} for r in REPRESENTATIONS
        },
        "snr": {r: {c: by_part("transfer", "snr", rep=r, condition=c) for c in CONDITIONS} for r in REPRESENTATIONS},
        "eps_sweep": {r: {a: by_fold("eps_sweep", rep=r, attack=a) for a in ATTACKS} for r in REPRESENTATIONS},
        "segments": by_part("segments"),
        "listening": by_fold("listening", "samples"),
        "spectrograms": {r: by_part("spectrograms", rep=r) for r in REPRESENTATIONS},
        "manifest": str(rules.manifest.output[0]),
        "study": {
            "scores": {s: by_part(SCORES_RULE, "scores", source=s, studied=True) for s in STUDY_SOURCES},
            "quality": {s: by_part("study_perturb", "quality", source=s, studied=True) for s in STUDY_SOURCES},
            "audio": {s: by_part("study_perturb", "audio", source=s, studied=True) for s in STUDY_SOURCES},
        },
    }
