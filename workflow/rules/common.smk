# Shared names and helpers for the rule files. Rules pass scripts ONLY their own
# parameters through `params:` (Snakemake reruns a job when those change).
import json

FOLDS = list(range(1, config["dataset"]["folds"] + 1))
REPRESENTATIONS = ["stft", "mel"]
DATA_ROOT = config["dataset"]["root"]
SR = config["audio"]["sample_rate"]


wildcard_constraints:
    fold=r"\d+",
    rep="stft|mel",


def spectrogram_params(rep):
    """The spectrogram keys one representation depends on (STFT ignores the mel keys)."""
    spec = config["spectrogram"]
    keys = ["n_fft", "hop_length", "window", "amin", "batch_size"]
    if rep == "mel":
        keys += ["n_mels", "fmin", "fmax"]
    return {k: spec[k] for k in keys}
