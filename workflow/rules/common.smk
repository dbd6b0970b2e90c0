# Shared names and helpers for the rule files. Every rule passes its script ONLY the
# params.yaml keys its step reads (`params: config=config_of(...)`, a sub-tree of
# params.yaml) and the version of the code the script runs (`params: code=...`):
# Snakemake reruns a job when either changes, and `python -m crossrep.dvc_stages`
# derives dvc.yaml's stages from the same rules.
from pathlib import Path

import crossrep
from crossrep import dataset, provenance
from crossrep.params import select
from crossrep.study import SOURCE_MODEL as STUDY_SOURCE_MODEL

FOLDS = list(range(1, config["dataset"]["folds"] + 1))
REPRESENTATIONS = list(crossrep.REPRESENTATIONS)
MODELS = list(crossrep.MODELS)
ATTACKS = config["attack"]["methods"]
CONDITIONS = ["clean"] + ATTACKS
DATA_ROOT = config["dataset"]["root"]
STUDY_SOURCES = list(STUDY_SOURCE_MODEL)
SCRIPTS = Path(workflow.basedir) / "workflow" / "scripts"
# the crossrep the jobs run: this workflow's own src/ (see the Snakefile), else the installed one
PACKAGE_DIR = Path(workflow.basedir) / "src" / "crossrep"
if not PACKAGE_DIR.is_dir():
    PACKAGE_DIR = provenance.PACKAGE_DIR


wildcard_constraints:
    fold=r"\d+",
    rep="|".join(crossrep.REPRESENTATIONS),
    model="|".join(crossrep.MODELS),
    attack="|".join(crossrep.ATTACK_METHODS),
    condition="|".join(("clean",) + crossrep.ATTACK_METHODS),
    source="|".join(STUDY_SOURCE_MODEL),


def dataset_inputs():
    """What reading the dataset depends on. A folder dataset: every file under its genre
    folders, so a recording added, removed or changed reruns the manifest and what follows
    (a folder's own mtime does not change when a file deep inside it does). The synthetic
    dataset: the folder the synthesize rule writes."""
    if config["dataset"]["kind"] == "synthetic":
        return [DATA_ROOT]
    return dataset.files(DATA_ROOT, config["dataset"]["genres"])


def config_of(*keys):
    """The sub-tree of params.yaml at these dotted keys (what a rule hands its step)."""
    return select(config, keys)


def code_version(script):
    """Hash of workflow/scripts/<script>.py and the crossrep modules it imports."""
    return provenance.code_version(SCRIPTS / f"{script}.py", PACKAGE_DIR)


def spectrogram_keys(rep):
    """The spectrogram keys one representation depends on (STFT ignores the mel keys)."""
    keys = ["n_fft", "hop_length", "window", "amin", "top_db", f"{rep}_scale", "batch_size"]
    if rep == "mel":
        keys += ["n_mels", "fmin", "fmax"]
    return ["audio.sample_rate"] + [f"spectrogram.{k}" for k in keys]


def attack_keys(method):
    """The attack keys one method depends on (FGSM ignores BIM's step, and so on)."""
    shared = ["label", "targeted", "clip_to_range", "batch_size"]
    return ["seed"] + [f"attack.{k}" for k in shared + [method]]


def output_of(rule, name=0, **wildcards):
    """Another rule's output pattern with these wildcards filled in (the rest stay wildcards).
    Called lazily (input functions) or after the rule is defined."""
    outputs = getattr(rules, rule).output
    pattern = outputs[name] if isinstance(name, int) else getattr(outputs, name)
    return expand(pattern, allow_missing=True, **{k: str(v) for k, v in wildcards.items()})[0]


def study_perturb_keys(source):
    """What one study source's perturbations depend on: its own sweep (so another source's
    sweep reruns nothing here), the attacks' settings, and its representation."""
    keys = ["seed", "audio.sample_rate", "segment.window", "study.visqol_clips", f"study.sources.{source}"]
    keys += [f"attack.{k}" for k in ("methods", "label", "targeted", "clip_to_range", "batch_size")]
    # the sweep sets eps; an iterative attack's step scales with eps / attack.<method>.eps
    keys += [f"attack.{m}" for m in ATTACKS if m != "fgsm"]
    if source == "cnn1d":
        return keys
    keys += spectrogram_keys(source)
    return keys + (
        ["reconstruction.griffin_lim_iterations", "reconstruction.nnls_iterations"] if source == "mel" else []
    )


def model_input(model, fold):
    """The shard a model reads for one fold: spectrograms for 2D CNNs, segments for the 1D CNN."""
    if model == "cnn1d":
        return output_of("segments", fold=fold)
    return output_of("spectrograms", rep=model.split("_")[1], fold=fold)


def train_keys(model):
    """What training reads: train.threads changes speed, not results, so it is no rerun
    trigger; segment and spectrogram keys go into the checkpoint (it classifies raw audio)."""
    family = "cnn1d" if model == "cnn1d" else "cnn2d"
    keys = ["seed", "dataset.genres", "segment", f"model.{family}"]
    keys += [f"train.{k}" for k in config["train"] if k != "threads"]
    return keys + (["audio.sample_rate"] if model == "cnn1d" else spectrogram_keys(model.split("_")[1]))


def condition_source(rep, condition, fold):
    if condition == "clean":
        return output_of("spectrograms", rep=rep, fold=fold)
    return output_of("adversarial", rep=rep, attack=condition, fold=fold)


def listening_sources(fold):
    """For one fold: the shards behind each version of a listening sample."""
    sources = {"original": {"cnn1d": output_of("predict_clean", model="cnn1d", fold=fold)}}
    for rep in REPRESENTATIONS:
        for condition in CONDITIONS:
            sources[f"{rep}/{condition}"] = {
                "rebuilt": output_of("reconstruct", rep=rep, condition=condition, fold=fold),
                "cnn2d": (
                    output_of("predict_clean", model=f"cnn2d_{rep}", fold=fold)
                    if condition == "clean"
                    else output_of("adversarial", rep=rep, attack=condition, fold=fold)
                ),
                "cnn1d": output_of("transfer", "predictions", rep=rep, condition=condition, fold=fold),
                "snr": output_of("transfer", "snr", rep=rep, condition=condition, fold=fold),
            }
    return sources


def flat(nested):
    return [v for x in nested.values() for v in (flat(x) if isinstance(x, dict) else [x])]


def report_results():
    """Every per-fold result the report reads, by kind."""

    def by_fold(rule, name=0, **wildcards):
        return {k: output_of(rule, name, fold=k, **wildcards) for k in FOLDS}

    return {
        "clean": {m: by_fold("predict_clean", model=m) for m in MODELS},
        "history": {m: by_fold("train", "history", model=m) for m in MODELS},
        "adversarial": {r: {a: by_fold("adversarial", rep=r, attack=a) for a in ATTACKS} for r in REPRESENTATIONS},
        "transfer": {
            r: {c: by_fold("transfer", "predictions", rep=r, condition=c) for c in CONDITIONS} for r in REPRESENTATIONS
        },
        "snr": {r: {c: by_fold("transfer", "snr", rep=r, condition=c) for c in CONDITIONS} for r in REPRESENTATIONS},
        "eps_sweep": {r: {a: by_fold("eps_sweep", rep=r, attack=a) for a in ATTACKS} for r in REPRESENTATIONS},
        "segments": by_fold("segments"),
        "listening": by_fold("listening", "samples"),
        "spectrograms": {r: by_fold("spectrograms", rep=r) for r in REPRESENTATIONS},
        "manifest": str(rules.manifest.output[0]),
        "study": {
            "scores": {s: by_fold("study_score", source=s) for s in STUDY_SOURCES},
            "quality": {s: by_fold("study_perturb", "quality", source=s) for s in STUDY_SOURCES},
            "audio": {s: by_fold("study_perturb", "audio", source=s) for s in STUDY_SOURCES},
        },
    }
