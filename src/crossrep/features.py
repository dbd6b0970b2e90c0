"""STFT and mel spectrograms in dB, batched, and the scales they are stored on.

Forward: ``torch.stft`` over a batch of segments, and for mel a cached librosa
filterbank applied as one matrix product (equal to librosa.stft /
librosa.feature.melspectrogram(power=1)), then one of these scales:

``stft_scale``
  ``magnitude_db``    20*log10(max(|X|, amin)), absolute reference (the default: exact
                      inverse with the clean phase).
  ``real_offset_db``  20*log10(max(Re X + c, amin)), c = max(0, -min Re X) per segment:
                      the authors' notebooks (amplitude_to_db of the offset real part);
                      Im X and c are kept aside and put back unchanged at rebuild, so a
                      change of d dB is an ADDITIVE change of (10^(d/20) - 1)(Re X + c).
``mel_scale``
  ``magnitude_db``           20*log10(max(M, amin)), absolute reference (default).
  ``magnitude_db10_ref_max`` 10*log10(max(M, amin) / max M): the authors'
                             power_to_db(melspectrogram(power=1), ref=np.max), so a
                             change of d dB is 2d dB of amplitude.
``top_db``
  None (default) or a floor: values below the segment's maximum minus top_db are
  raised to it (librosa's default of 80 in the authors' calls). Lossy: quiet bins do
  not come back.

A scale is undone by ``Spectrogram.linear`` with the clean segment's reference
(``Spectrogram.reference``); the waveforms themselves come back in
``crossrep.reconstruction`` (inverse STFT, NNLS, Griffin-Lim).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, fields

import numpy as np
import torch

from . import REPRESENTATIONS, representation_of

SCALES = {"stft": ("magnitude_db", "real_offset_db"), "mel": ("magnitude_db", "magnitude_db10_ref_max")}


@dataclass(frozen=True)
class SpectrogramConfig:
    sample_rate: int = 22050
    n_fft: int = 512
    hop_length: int = 256
    window: str = "hann"
    amin: float = 1e-5
    n_mels: int = 64
    fmin: float = 0.0
    fmax: float = 11025.0
    stft_scale: str = "magnitude_db"
    mel_scale: str = "magnitude_db"
    top_db: float | None = None

    def __post_init__(self):
        for representation, scale in (("stft", self.stft_scale), ("mel", self.mel_scale)):
            if scale not in SCALES[representation]:
                raise ValueError(f"spectrogram.{representation}_scale {scale!r}: choose one of "
                                 f"{SCALES[representation]}")
        if self.top_db is not None and self.top_db <= 0:
            raise ValueError(f"spectrogram.top_db {self.top_db!r}: a positive number of dB, or null for no floor")

    @classmethod
    def from_params(cls, spectrogram: dict, sample_rate: int) -> SpectrogramConfig:
        names = {f.name for f in fields(cls)}
        return cls(sample_rate=sample_rate, **{k: v for k, v in spectrogram.items() if k in names})

    @property
    def n_stft_bins(self) -> int:
        return self.n_fft // 2 + 1

    def n_bins(self, representation: str) -> int:
        return self.n_stft_bins if representation == "stft" else self.n_mels

    def n_frames(self, n_samples: int) -> int:
        return 1 + n_samples // self.hop_length


# torch's periodic windows, computed in float64, equal scipy's (librosa's get_window) to the
# last bit in float32 for these names (tested); others come from scipy
TORCH_WINDOWS = {"hann": torch.hann_window, "hamming": torch.hamming_window}


def periodic_window(name: str, n: int) -> np.ndarray:
    """The periodic ("fftbins") analysis window librosa.stft uses, float32."""
    if name in TORCH_WINDOWS:
        return TORCH_WINDOWS[name](n, periodic=True, dtype=torch.float64).numpy().astype(np.float32)
    from scipy.signal import get_window

    return get_window(name, n, fftbins=True).astype(np.float32)


class Spectrogram:
    """The forward transforms of one configuration (filterbank built once) and the scale's inverse."""

    def __init__(self, config: SpectrogramConfig, device="cpu"):
        self.cfg = config
        self.device = torch.device(device)
        self.window = torch.as_tensor(periodic_window(config.window, config.n_fft), dtype=torch.float32,
                                      device=self.device)

    # librosa (and the scipy.signal it brings, ~1 s of a job's start-up) only where mel is used
    @functools.cached_property
    def _mel_basis_np(self) -> np.ndarray:
        import librosa

        cfg = self.cfg
        return librosa.filters.mel(sr=cfg.sample_rate, n_fft=cfg.n_fft, n_mels=cfg.n_mels, fmin=cfg.fmin,
                                   fmax=cfg.fmax).astype(np.float32)

    @functools.cached_property
    def mel_basis(self) -> torch.Tensor:
        """The (n_mels, bins) librosa filterbank (slaney), built on first use."""
        return torch.as_tensor(self._mel_basis_np, device=self.device)

    # -- forward -----------------------------------------------------------------
    def stft(self, audio) -> torch.Tensor:
        """Complex STFT (batch, bins, frames) of (batch, samples) audio."""
        audio = torch.as_tensor(audio, dtype=torch.float32, device=self.device)
        return torch.stft(audio, self.cfg.n_fft, self.cfg.hop_length, window=self.window,
                          center=True, pad_mode="constant", return_complex=True)

    def magnitude(self, representation: str, audio) -> np.ndarray:
        """|STFT| or mel magnitude (batch, bins, frames), float32 numpy."""
        with torch.no_grad():
            spec = self.stft(audio).cpu().numpy()
        mag = np.abs(spec)  # numpy's complex abs is ~7x faster than torch's on CPU (measured)
        return mag if representation == "stft" else self._mel_basis_np @ mag

    def scale(self, representation: str) -> str:
        return self.cfg.stft_scale if representation == "stft" else self.cfg.mel_scale

    def db(self, representation: str, audio) -> np.ndarray:
        """Spectrogram (batch, bins, frames) on the configured scale, contiguous float32 numpy."""
        if representation not in REPRESENTATIONS:
            raise ValueError(f"representation {representation!r}: choose one of {REPRESENTATIONS}")
        amin = np.float32(self.cfg.amin)
        scale = self.scale(representation)
        if scale == "real_offset_db":
            with torch.no_grad():
                real = self.stft(audio).real.cpu().numpy()
            db = 20.0 * np.log10(np.maximum(real + _offset(real), amin))
        else:
            mag = self.magnitude(representation, audio)
            if scale == "magnitude_db10_ref_max":
                db = 10.0 * np.log10(np.maximum(mag, amin) / np.maximum(_peak(mag), amin))
            else:
                db = 20.0 * np.log10(np.maximum(mag, amin))
        if self.cfg.top_db is not None:
            db = np.maximum(db, db.max(axis=(1, 2), keepdims=True) - np.float32(self.cfg.top_db))
        return np.ascontiguousarray(db, dtype=np.float32)

    def db_differentiable(self, representation: str, audio: torch.Tensor) -> torch.Tensor:
        """``db`` in torch, differentiable in ``audio`` (the gradient a waveform attack through
        a 2D CNN follows); the same values as ``db`` up to float32 rounding."""
        spec = self.stft(audio)
        amin, scale = self.cfg.amin, self.scale(representation)
        if scale == "real_offset_db":
            real = spec.real
            db = 20.0 * torch.log10(torch.clamp(real + (-real.amin((1, 2), keepdim=True)).clamp_min(0), min=amin))
        else:
            mag = spec.abs()
            if representation == "mel":
                mag = self.mel_basis @ mag
            if scale == "magnitude_db10_ref_max":
                peak = torch.clamp(mag.amax((1, 2), keepdim=True), min=amin)
                db = 10.0 * torch.log10(torch.clamp(mag, min=amin) / peak)
            else:
                db = 20.0 * torch.log10(torch.clamp(mag, min=amin))
        if self.cfg.top_db is not None:
            db = torch.maximum(db, db.amax((1, 2), keepdim=True) - self.cfg.top_db)
        return db

    def phase(self, audio) -> torch.Tensor:
        """The clean STFT phase (batch, bins, frames): the mel path's "oracle phase"."""
        with torch.no_grad():
            return torch.angle(self.stft(audio))

    def reference(self, representation: str, audio) -> dict:
        """What rebuilding from this scale needs of the clean segments, beside the spectrogram:
        ``phase`` (STFT magnitude), ``imag`` and ``offset`` (real-part STFT), ``peak`` (mel
        relative to its maximum), nothing (mel on an absolute reference)."""
        scale = self.scale(representation)
        if representation == "mel":
            return {"peak": torch.from_numpy(_peak(self.magnitude("mel", audio)))} \
                if scale == "magnitude_db10_ref_max" else {}
        with torch.no_grad():
            spec = self.stft(audio)
        if scale == "real_offset_db":
            return {"imag": spec.imag, "offset": torch.from_numpy(_offset(spec.real.cpu().numpy()))}
        return {"phase": torch.angle(spec)}

    def linear(self, representation: str, db, reference: dict) -> torch.Tensor:
        """Undo the scale: |X| (magnitude_db), Re X (real_offset_db) or the mel magnitude."""
        db = torch.as_tensor(db, dtype=torch.float32, device=self.device)
        scale = self.scale(representation)
        if scale == "real_offset_db":
            return torch.pow(10.0, db / 20.0) - _tensor(reference["offset"], self.device)
        if scale == "magnitude_db10_ref_max":
            return _tensor(reference["peak"], self.device) * torch.pow(10.0, db / 10.0)
        return torch.pow(10.0, db / 20.0)


def _offset(real: np.ndarray) -> np.ndarray:
    """Per-segment c >= 0 making Re X + c non-negative (batch, 1, 1)."""
    return np.maximum(-real.min(axis=(1, 2), keepdims=True), 0).astype(np.float32)


def _peak(mag: np.ndarray) -> np.ndarray:
    return mag.max(axis=(1, 2), keepdims=True).astype(np.float32)


def _tensor(value, device) -> torch.Tensor:
    return torch.as_tensor(value, dtype=torch.float32, device=device)


class SpectrogramInput(torch.nn.Module):
    """A 2D CNN that reads audio: ``model(transform.db_differentiable(representation, audio))``,
    so an attack can perturb the waveform itself through the spectrogram model."""

    def __init__(self, model: torch.nn.Module, transform: Spectrogram, representation: str):
        super().__init__()
        self.model, self.transform, self.representation = model, transform, representation

    def forward(self, audio):
        return self.model(self.transform.db_differentiable(self.representation, audio))


def model_input(checkpoint: dict, segments) -> torch.Tensor:
    """What a checkpoint's model reads for (batch, samples) audio: the samples (1D CNN) or the
    spectrogram its checkpoint was trained on (2D CNNs, its own spectrogram params)."""
    segments = np.asarray(segments, dtype=np.float32)
    if representation_of(checkpoint["kind"]) is None:  # a waveform model
        return torch.from_numpy(segments)
    params = checkpoint["params"]
    config = SpectrogramConfig.from_params(params["spectrogram"], params["sample_rate"])
    return torch.from_numpy(_transform(config).db(representation_of(checkpoint["kind"]), segments))


def reading_audio(checkpoint: dict, model: torch.nn.Module) -> torch.nn.Module:
    """A checkpoint's model as one that reads (batch, samples) audio, differentiably: a
    waveform model as it is, a 2D CNN behind its own spectrogram (``SpectrogramInput``)."""
    if representation_of(checkpoint["kind"]) is None:
        return model
    params = checkpoint["params"]
    config = SpectrogramConfig.from_params(params["spectrogram"], params["sample_rate"])
    return SpectrogramInput(model, _transform(config), representation_of(checkpoint["kind"]))


_TRANSFORMS: dict = {}


def _transform(config: SpectrogramConfig) -> Spectrogram:
    """One Spectrogram per configuration per process (its filterbank is built once)."""
    if config not in _TRANSFORMS:
        _TRANSFORMS[config] = Spectrogram(config)
    return _TRANSFORMS[config]
