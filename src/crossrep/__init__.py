"""crossrep: adversarial attacks on spectrogram classifiers and their transfer to waveforms."""

GTZAN_GENRES = (
    "blues", "classical", "country", "disco", "hiphop",
    "jazz", "metal", "pop", "reggae", "rock",
)

__version__ = "0.1.0"
