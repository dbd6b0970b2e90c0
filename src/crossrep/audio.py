"""Audio input: decoding, resampling to mono at the working rate, and segmentation."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

AUDIO_EXTENSIONS = (".wav", ".au", ".flac", ".ogg", ".mp3", ".aiff", ".aif")


class AudioError(ValueError):
    """A file cannot be used as audio; the message says why (recorded in the manifest)."""


def load(path, sample_rate: int) -> np.ndarray:
    """Decode ``path`` to float32 mono at ``sample_rate``.

    Raises :class:`AudioError` for an unreadable, empty or non-finite file.
    """
    path = Path(path)
    try:
        data, sr = sf.read(path, dtype="float32", always_2d=True)
    except Exception as exc:  # libsndfile raises several types for corrupt input
        raise AudioError(f"unreadable audio ({type(exc).__name__}: {str(exc).strip()[:160]})") from exc
    if data.shape[0] == 0:
        raise AudioError("empty audio (0 samples)")
    if not np.isfinite(data).all():
        raise AudioError("audio holds NaN or infinite samples")
    mono = data.mean(axis=1)
    if sr != sample_rate:
        import librosa  # only when resampling: its import costs ~1 s per job

        mono = librosa.resample(mono, orig_sr=sr, target_sr=sample_rate, res_type="soxr_hq")
    return np.ascontiguousarray(mono, dtype=np.float32)


def segment_starts(n_samples: int, window: int, overlap: float) -> np.ndarray:
    """Start offsets of the windows that fit in ``n_samples`` (no padding)."""
    hop = int(window * (1 - overlap))
    if n_samples < window:
        return np.zeros(0, dtype=np.int64)
    return np.arange(0, n_samples - window + 1, hop, dtype=np.int64)


def segments(clip: np.ndarray, window: int, overlap: float) -> np.ndarray:
    """(n_segments, window) view-copy of ``clip`` cut by the sliding window."""
    starts = segment_starts(len(clip), window, overlap)
    return np.stack([clip[s:s + window] for s in starts]) if len(starts) else np.zeros((0, window), clip.dtype)


def power(x: np.ndarray) -> np.ndarray:
    """Mean power along the last axis (the authors' silence test is power <= 1e-5)."""
    x = np.asarray(x, dtype=np.float64)
    return np.mean(x * x, axis=-1)


def write_wav(path, audio: np.ndarray, sample_rate: int) -> None:
    """16-bit PCM WAV, clipped to [-1, 1] (the listening samples)."""
    from .shards import atomic_path

    with atomic_path(path) as tmp:
        sf.write(tmp, np.clip(audio, -1.0, 1.0), sample_rate, subtype="PCM_16", format="WAV")
