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
MODELS = ("cnn2d_stft", "cnn2d_mel", "cnn1d")  # the paper's models: every study source attacks some of them
# Every model kind, the paper's and the held-out targets' (params.yaml study.held_out:
# architectures no source shares, trained per fold like the others, scored in the study and
# never attacked; samplecnn: a sample-level 1D CNN on raw samples, no Gammatone front end;
# resnet_mel: a residual 2D CNN on the mel spectrogram).
FAMILY = {"cnn2d_stft": "cnn2d", "cnn2d_mel": "cnn2d", "cnn1d": "cnn1d", "samplecnn": "samplecnn",
          "resnet_mel": "resnet"}  # model kind -> its params.yaml model.<family> (and learning rate)

__version__ = "0.1.0"


def representation_of(model: str) -> str | None:
    """The spectrogram a model reads ("stft" or "mel" for a 2D CNN, "mel" for resnet_mel),
    None for the waveform models (cnn1d, samplecnn: raw samples). The one place that knows
    how a model's name encodes its input."""
    if model not in FAMILY:
        raise ValueError(f"model {model!r}: choose one of {tuple(FAMILY)}")
    return None if model in ("cnn1d", "samplecnn") else model.rsplit("_", 1)[1]
