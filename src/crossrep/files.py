"""Trained checkpoints applied to single audio files: classify a file, attack it, compare two
versions of it. The library behind ``crossrep predict | attack | compare`` (the CLI only
parses and prints).

A checkpoint carries everything these need (sample rate, segmentation, spectrogram
settings, normalisation, class names), so any trained fold model works alone.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from . import audio, metrics, models, representation_of
from .features import Spectrogram, SpectrogramConfig, model_input

# the rebuild path whose audio an attacker ships, per source (crossrep.study.PATHS)
SHIPPED_PATH = {"stft": "clean_phase", "mel": "griffin_lim", "cnn1d": "waveform"}


class FileError(Exception):
    """A bad file or option; the message names it and the fix."""


def load_model(path):
    """(model, checkpoint dict) of a crossrep checkpoint, or a FileError naming the file."""
    try:
        return models.load_checkpoint(path)
    except (FileNotFoundError, ValueError) as exc:
        raise FileError(str(exc)) from exc


def decode(path, sample_rate: int) -> np.ndarray:
    """The file as mono float samples at ``sample_rate``, or a FileError naming it."""
    try:
        return audio.load(path, sample_rate)
    except audio.AudioError as exc:
        raise FileError(f"{path}: {exc}") from exc


def segments_of(path, ckpt) -> tuple[np.ndarray, np.ndarray, int]:
    """(segments, the decoded audio, hop in samples) of a file, per the checkpoint's segmentation."""
    seg, sr = ckpt["params"]["segment"], ckpt["params"]["sample_rate"]
    signal = decode(path, sr)
    window = seg["window"]
    if len(signal) < window:
        raise FileError(f"{path}: too short ({len(signal) / sr:.2f} s); the model needs at least one "
                        f"{window / sr:.2f} s segment")
    return audio.segments(signal, window, seg["overlap"]), signal, int(window * (1 - seg["overlap"]))


def probabilities(model, ckpt, segments) -> np.ndarray:
    """Softmax (segments, classes) of a checkpoint's model on (segments, samples) audio."""
    with torch.no_grad():
        return torch.softmax(model(model_input(ckpt, segments)), 1).numpy()


def decisions(probs, classes) -> dict:
    """A file's genre by majority vote and by the sum rule, and its mean probabilities."""
    decision = metrics.track_decisions(probs, ["file"] * len(probs)).iloc[0]
    return dict(vote=classes[decision["vote"]], sum=classes[decision["sum"]],
                mean_probabilities={c: round(float(p), 4) for c, p in zip(classes, probs.mean(0), strict=True)})


def predict(file, checkpoint) -> dict:
    """Every segment's genre and probability, and the file's vote and sum-rule genre."""
    model, ckpt = load_model(checkpoint)
    classes, sr = ckpt["classes"], ckpt["params"]["sample_rate"]
    segs, _, hop = segments_of(file, ckpt)
    probs = probabilities(model, ckpt, segs)
    return dict(file=str(file), model=ckpt["kind"], segments=[
        dict(start_s=round(i * hop / sr, 3), genre=classes[int(p.argmax())], probability=round(float(p.max()), 4))
        for i, p in enumerate(probs)], **decisions(probs, classes))


def attack(file, checkpoint, out, *, method: str, eps: float, step: float = 0.1, iterations: int = 10,
           label: str = "predicted", genre: str | None = None, target: str | None = None, transfer=None,
           griffin_lim_iterations: int = 32, seed: int = 0) -> dict:
    """Attack a file window by window (non-overlapping model windows, the last zero-padded) on
    a 2D CNN (eps in dB of its spectrogram, audio rebuilt with the clean phase, or for mel by
    Griffin-Lim) or on the 1D CNN (eps x the file's RMS per sample); write the adversarial
    audio to ``out`` (16-bit WAV). The same code path as the transfer study's
    (``study.perturb``). ``transfer``: another checkpoint that classifies both versions."""
    from .study.clips import tile
    from .study.perturb import Source, rebuilt_clips

    model, ckpt = load_model(checkpoint)
    classes, sr, window = ckpt["classes"], ckpt["params"]["sample_rate"], ckpt["params"]["segment"]["window"]
    source_name = representation_of(ckpt["kind"]) or "cnn1d"
    truth = labels = None
    if target is not None:
        if target not in classes:
            raise FileError(f"--target {target!r} is not one of the model's classes: {', '.join(classes)}")
        labels = np.array([classes.index(target)])
    elif label == "truth":
        if genre not in classes:
            raise FileError(f"--label truth needs --genre, one of: {', '.join(classes)}")
        truth = np.array([classes.index(genre)])
    _, signal, _ = segments_of(file, ckpt)
    transform = None
    if source_name != "cnn1d":
        transform = Spectrogram(SpectrogramConfig.from_params(ckpt["params"]["spectrogram"], sr))
    iterative = {"eps": eps, "step": step, "iterations": iterations}
    attack_params = dict(label=label, targeted=target is not None, clip_to_range=False, fgsm={"eps": eps},
                         bim=iterative, pgd=iterative)
    source = Source(source_name, model, len(classes), transform, griffin_lim_iterations)
    common = dict(track_ids=[Path(file).name], window=window, attack_params=attack_params, seed=seed, truth=truth,
                  labels=labels)
    path = SHIPPED_PATH[source_name]
    reference, adversarial = (rebuilt[path][0] for rebuilt in
                              rebuilt_clips(source, signal[None], kind=method, eps_values=[0.0, eps], **common))
    audio.write_wav(out, adversarial, sr)
    result = dict(file=str(file), out=str(out), model=ckpt["kind"], attack=method, eps=eps,
                  eps_unit="x RMS" if source_name == "cnn1d" else "dB", windows=len(tile(signal, window)),
                  before=decisions(probabilities(model, ckpt, tile(reference, window)), classes),
                  after=decisions(probabilities(model, ckpt, tile(adversarial, window)), classes),
                  **loudness(reference, adversarial, signal))
    if transfer:
        model_t, ckpt_t = load_model(transfer)
        result["transfer_model"] = ckpt_t["kind"]
        for name, version in (("transfer_before", reference), ("transfer_after", adversarial)):
            result[name] = decisions(probabilities(model_t, ckpt_t, tile(version, window)), ckpt_t["classes"])
    return result


def loudness(reference, adversarial, original) -> dict:
    """The perturbation's true SNR against the clean rebuild and the original, and the
    authors' level ratio (not an SNR)."""
    return dict(true_snr_db=float(metrics.snr_db(reference, adversarial)),
                snr_vs_original_db=float(metrics.snr_db(original, adversarial)),
                level_ratio_db=float(metrics.level_ratio_db(reference, adversarial)))


def compare(reference, degraded, sample_rate: int = 22050) -> dict:
    """How loud and how audible ``degraded``'s difference from ``reference`` is (any two
    versions of the same audio, any rates: both are resampled to ``sample_rate``)."""
    from .study.quality import VISQOL_CEILING, Visqol

    ref, deg = decode(reference, sample_rate), decode(degraded, sample_rate)
    if len(ref) != len(deg):
        raise FileError(f"{reference} has {len(ref)} samples and {degraded} {len(deg)} at {sample_rate} Hz: "
                        "compare needs two versions of the same audio")
    return dict(reference=str(reference), degraded=str(degraded), sample_rate=sample_rate,
                true_snr_db=float(metrics.snr_db(ref, deg)), level_ratio_db=float(metrics.level_ratio_db(ref, deg)),
                lsd_db=float(metrics.log_spectral_distance_db(ref, deg)),
                visqol_moslqo=Visqol().mos(ref, deg, sample_rate), visqol_ceiling=VISQOL_CEILING)
