"""crossrep: adversarial attacks on spectrogram classifiers and their transfer to waveforms."""

GTZAN_GENRES = (
    "blues", "classical", "country", "disco", "hiphop",
    "jazz", "metal", "pop", "reggae", "rock",
)

# The pipeline's axes (the workflow's wildcards take their values from these).
REPRESENTATIONS = ("stft", "mel")
ATTACK_METHODS = ("fgsm", "bim", "pgd", "mi_fgsm", "di_fgsm", "di_mi_fgsm")
MOMENTUM_METHODS = ("mi_fgsm", "di_mi_fgsm")  # read attack.<method>.momentum
DIVERSE_METHODS = ("di_fgsm", "di_mi_fgsm")   # read attack.diversity
MODELS = ("cnn2d_stft", "cnn2d_mel", "cnn1d")

__version__ = "0.1.0"


def representation_of(model: str) -> str | None:
    """The spectrogram a model reads ("stft" or "mel" for a 2D CNN), None for the 1D CNN
    (raw samples). The one place that knows how a model's name encodes its input."""
    if model not in MODELS:
        raise ValueError(f"model {model!r}: choose one of {MODELS}")
    return None if model == "cnn1d" else model.removeprefix("cnn2d_")
