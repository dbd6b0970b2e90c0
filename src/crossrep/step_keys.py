"""The params.yaml keys each workflow step reads: the one table the rules hand their steps
(``params: config=config_of(rule, ...)`` in workflow/rules/common.smk, a sub-tree of
params.yaml), from which Snakemake decides reruns and ``crossrep.dvc_stages`` lists each DVC
stage's params. A step reads nothing else: a key missing here fails the pipeline with a
KeyError, so the table cannot say less than a step reads.

Plain data and arithmetic (no torch): Snakemake imports it whenever it parses the workflow.
"""
from __future__ import annotations

from . import DIVERSE_METHODS, FAMILY, representation_of
from .study import spectrogram_of


def spectrogram(rep: str) -> list[str]:
    """One representation's spectrogram keys (STFT ignores the mel keys)."""
    keys = ["n_fft", "hop_length", "window", "amin", "top_db", f"{rep}_scale", "batch_size"]
    if rep == "mel":
        keys += ["n_mels", "fmin", "fmax"]
    return ["audio.sample_rate"] + [f"spectrogram.{k}" for k in keys]


def attack(method: str) -> list[str]:
    """One attack method's keys (FGSM ignores BIM's step, and so on); ``seed``: PGD's random
    start, drawn per row from its identity."""
    shared = ["label", "targeted", "clip_to_range", "batch_size"]
    return ["seed"] + [f"attack.{k}" for k in shared + [method] + diversity([method])]


def diversity(methods) -> list[str]:
    """DI's transforms, for the methods that use them."""
    return ["diversity"] if set(methods) & set(DIVERSE_METHODS) else []


def train(model: str, config: dict) -> list[str]:
    """What training reads: train.threads changes speed, not results, so it is no rerun
    trigger; segment and spectrogram keys go into the checkpoint (it classifies raw audio),
    and dataset.kind (the CLI warns about models trained on the synthetic demo data)."""
    keys = ["seed", "dataset.kind", "dataset.genres", "segment", f"model.{FAMILY[model]}"]
    keys += [f"train.{k}" for k in config["train"] if k not in ("threads", "learning_rate")]
    keys += [f"train.learning_rate.{FAMILY[model]}"]
    rep = representation_of(model)
    return keys + (spectrogram(rep) if rep else ["audio.sample_rate"])


def study_perturb(source: str, config: dict) -> list[str]:
    """One study source's perturbations: its own sweep (so another source's sweep reruns
    nothing here), the attacks' settings, its representation, for mel the rebuild's, the
    STFT the spectrum-matched null randomises the phases in, and what it keeps (scoring
    too, when it keeps only the listening clips)."""
    keys = ["seed", "audio.sample_rate", "segment.window", "study.visqol_clips", "study.noise_draws",
            f"study.sources.{source}", "study.keep_audio"]
    if config["study"]["keep_audio"] == "listening":  # it scores (as study_score) and keeps the listening clips
        keys += ["segment", "study.listening_clips"]
    keys += [f"attack.{k}" for k in ("methods", "label", "targeted", "clip_to_range", "batch_size")]
    # the sweep sets eps; an iterative attack's step scales with eps / attack.<method>.eps
    keys += [f"attack.{m}" for m in config["attack"]["methods"] + diversity(config["attack"]["methods"]) if m != "fgsm"]
    rep = spectrogram_of(source, config["study"]["sources"][source])
    if not rep:  # a waveform source: its models' checkpoints carry their spectrograms
        return keys + [f"spectrogram.{k}" for k in ("n_fft", "hop_length", "window")]
    keys += spectrogram(rep)
    if rep == "mel":
        keys += ["reconstruction.griffin_lim_iterations", "reconstruction.nnls_iterations"]
    return keys


SEGMENTING = ["segment.window", "segment.overlap"]
REBUILD = ["reconstruction.griffin_lim_iterations", "reconstruction.nnls_iterations", "reconstruction.batch_size"]

# rule -> its keys (a list), or a function of (config, wildcards) for rules whose keys
# depend on a wildcard; rules absent here read no params (predict_clean)
STEP_KEYS = {
    "synthesize": ["seed", "audio.sample_rate", "dataset.genres", "dataset.clip_seconds", "dataset.synthetic"],
    "manifest": ["seed", "dataset.root", "audio.sample_rate", "dataset.genres", "dataset.folds", "dataset.clip_seconds",
                 "dataset.pad_tolerance_seconds", "dataset.max_clips_per_recording", *SEGMENTING,
                 "segment.silence_threshold", "shards.max_segments"],
    "segments": ["audio.sample_rate", "dataset.root", "dataset.genres", "dataset.clip_seconds", "segment"],
    "spectrograms": lambda config, wc: spectrogram(wc["rep"]),
    "train": lambda config, wc: train(wc["model"], config),
    "adversarial": lambda config, wc: attack(wc["attack"]),
    "eps_sweep": lambda config, wc: attack(wc["attack"]) + ["attack.eps_sweep", "attack.sweep_tracks_per_genre"],
    # Griffin-Lim's initial phase is drawn per row from its identity and ``seed``
    "transfer": lambda config, wc: ["seed", *spectrogram(wc["rep"]), *REBUILD],
    # study.visqol_clips: the first that many chosen clips of a fold are marked for ViSQOL
    "study_clips": ["audio.sample_rate", "dataset.root", "dataset.clip_seconds", "study.clips_per_genre",
                    "study.visqol_clips", "shards.max_segments", *SEGMENTING, "attack.batch_size"],
    "study_perturb": lambda config, wc: study_perturb(wc["source"], config),
    "study_score": ["segment"],
    # it rebuilds its few samples as ``transfer`` does
    "listening": ["seed", "reconstruction.listening_tracks_per_genre", *REBUILD,
                  *dict.fromkeys(spectrogram("stft") + spectrogram("mel"))],
    # seed: the bootstrap's resamples, drawn per verdict row from its identity
    # study.sources: each source's models and name in the tables
    "report": ["seed", "dataset.kind", "attack.methods", "study.sources", "study.held_out", "study.matched_snr_db",
               "study.listening_clips", "study.margin", "study.bootstrap_resamples"],
}


def keys(rule: str, config: dict, **wildcards) -> list[str]:
    """The dotted params.yaml keys rule ``rule`` hands its step (for these wildcards), and
    compute.cpu_isa: every step's numbers depend on the kernels it pins."""
    entry = STEP_KEYS[rule]
    return (entry(config, wildcards) if callable(entry) else list(entry)) + ["compute.cpu_isa"]
