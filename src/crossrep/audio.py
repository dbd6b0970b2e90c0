"""Audio input: decoding, resampling to mono at the working rate, and segmentation."""
from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

AUDIO_EXTENSIONS = (".wav", ".au", ".flac", ".ogg", ".mp3", ".aiff", ".aif")


class AudioError(ValueError):
    """A file cannot be used as audio; the message says why (recorded in the manifest)."""


BLOCK_FRAMES = 1 << 16  # frames decoded at a time: peak memory is a block, not a recording


def stream(path, sample_rate: int, block_frames: int = BLOCK_FRAMES) -> Iterator[np.ndarray]:
    """Decode ``path`` block by block to float32 mono at ``sample_rate``.

    Channels are averaged, then soxr's HQ resampler runs as a stream over the blocks: the
    samples equal resampling the whole file at once (``librosa.resample(res_type="soxr_hq")``
    is the same soxr call), so memory stays at a block however long the recording is.
    Raises :class:`AudioError` for an unreadable, empty or non-finite file (possibly after
    some blocks were yielded: a file damaged half way is unusable as a whole).
    """
    path = Path(path)
    try:
        info = sf.info(str(path))
        blocks = sf.blocks(str(path), blocksize=block_frames, dtype="float32", always_2d=True)
    except Exception as exc:  # libsndfile raises several types for corrupt input
        raise _unreadable(exc) from exc
    resampler = None
    if info.samplerate != sample_rate:
        resampler = soxr.ResampleStream(info.samplerate, sample_rate, 1, dtype="float32", quality="HQ")
    frames = 0
    while True:
        try:
            data = next(blocks, None)
        except Exception as exc:
            raise _unreadable(exc) from exc
        if data is None:
            break
        if not np.isfinite(data).all():
            raise AudioError("audio holds NaN or infinite samples")
        frames += len(data)
        mono = data.mean(axis=1)
        if resampler is not None:
            mono = resampler.resample_chunk(mono)
        if len(mono):
            yield np.ascontiguousarray(mono, dtype=np.float32)
    if frames == 0:
        raise AudioError("empty audio (0 samples)")
    if resampler is not None:
        yield resampler.resample_chunk(np.zeros(0, np.float32), last=True)


def _unreadable(exc: Exception) -> AudioError:
    return AudioError(f"unreadable audio ({type(exc).__name__}: {str(exc).strip()[:160]})")


def load(path, sample_rate: int) -> np.ndarray:
    """The whole of ``path`` as float32 mono at ``sample_rate`` (:func:`stream`, joined)."""
    return np.concatenate(list(stream(path, sample_rate)))


def clips(path, sample_rate: int, spans) -> Iterator[np.ndarray]:
    """The clips ``(offset, samples)`` of one recording, in ascending offset order, decoded
    in one pass of :func:`stream` holding at most a clip and a block (a clip past the end
    comes back short)."""
    spans = list(spans)
    if any(a[0] > b[0] for a, b in zip(spans, spans[1:], strict=False)):
        raise ValueError("clips: spans must be in ascending offset order")
    pending, start, held = iter(spans), 0, []  # held: decoded blocks from sample ``start`` on
    span = next(pending, None)
    for block in stream(path, sample_rate):
        held.append(block)
        while span is not None and start + sum(map(len, held)) >= span[0] + span[1]:
            yield _cut(held, start, *span)
            span = next(pending, None)
        if span is None:
            return
        start, held = _drop_before(held, start, span[0])
    while span is not None:  # the recording ended inside (or before) this clip
        yield _cut(held, start, *span)
        span = next(pending, None)


def _cut(held, start: int, offset: int, samples: int) -> np.ndarray:
    joined = np.concatenate(held) if held else np.zeros(0, np.float32)
    return joined[max(offset - start, 0):offset - start + samples].copy()


def _drop_before(held, start: int, offset: int):
    """The held blocks less those wholly before sample ``offset``."""
    while held and start + len(held[0]) <= offset:
        start += len(held.pop(0))
    return start, held


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
    """16-bit PCM WAV, clipped to [-1, 1] (the listening samples); its samples are
    :func:`to_pcm16` of ``audio``."""
    from .shards import atomic_path

    with atomic_path(path) as tmp:
        sf.write(tmp, np.clip(audio, -1.0, 1.0), sample_rate, subtype="PCM_16", format="WAV")


def to_pcm16(audio: np.ndarray) -> np.ndarray:
    """The int16 samples a 16-bit WAV of ``audio`` holds (:func:`write_wav`: clipped to
    [-1, 1], then libsndfile's own conversion, so no hand-made rounding rule can differ)."""
    audio = np.atleast_2d(np.asarray(audio, dtype=np.float64))
    out = np.empty(audio.shape, np.int16)
    for i, row in enumerate(audio):
        buffer = io.BytesIO()
        sf.write(buffer, np.clip(row, -1.0, 1.0), 8000, subtype="PCM_16", format="WAV")
        buffer.seek(0)
        out[i] = sf.read(buffer, dtype="int16")[0]
    return out


def from_pcm16(samples: np.ndarray) -> np.ndarray:
    """float32 audio from int16 samples, as soundfile reads a 16-bit WAV (x / 32768)."""
    return np.asarray(samples, dtype=np.float32) / np.float32(32768)


def clipped_samples(audio: np.ndarray) -> np.ndarray:
    """Per row, how many samples lie outside [-1, 1] (a 16-bit file clips them)."""
    return (np.abs(np.atleast_2d(audio)) > 1.0).sum(axis=1)
