"""crossrep: adversarial attacks on spectrogram classifiers and their transfer to waveforms."""

GTZAN_GENRES = (
    "blues", "classical", "country", "disco", "hiphop",
    "jazz", "metal", "pop", "reggae", "rock",
)

# The pipeline's axes (the workflow's wildcards take their values from these).
REPRESENTATIONS = ("stft", "mel")
ATTACK_METHODS = ("fgsm", "bim", "pgd")
MODELS = ("cnn2d_stft", "cnn2d_mel", "cnn1d")

__version__ = "0.1.0"
