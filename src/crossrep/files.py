"""Trained checkpoints applied to single audio files: classify a file, attack it, compare two
versions of it. The library behind ``crossrep predict | attack | compare`` (the CLI only
parses and prints).

A checkpoint carries everything these need (sample rate, segmentation, spectrogram
settings, normalisation, class names), so any trained fold model works alone.
"""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from . import audio, metrics, models, representation_of
from .attacks import Diversity
from .audio import from_pcm16, to_pcm16
from .features import Spectrogram, SpectrogramConfig, model_input
from .shards import atomic_path

# the rebuild path whose audio an attacker ships, per source (crossrep.study.PATHS)
SHIPPED_PATH = {"stft": "clean_phase", "mel": "griffin_lim", "cnn1d": "waveform"}


class FileError(Exception):
    """A bad file or option; the message names it and the fix."""


VISQOL_MIN_SECONDS = 1.0  # ViSQOL raises on shorter signals: fewer frames than one of its 45-frame patches
BATCH_WINDOWS = 8  # model windows classified or attacked at a time: memory is a batch, not a file
CHECKPOINT_HINT = "give a checkpoint written by training (models/<model>/fold<k>.pt)"
_TORCH_MAGIC = (b"PK\x03\x04", b"\x80")  # torch.save's zip archive; the legacy pickle format


def existing_file(path, option: str | None = None) -> Path:
    """``path`` if it is a file, else a FileError naming it (and the option it came from)."""
    path, label = Path(path), f"{option} {path}" if option else str(path)
    if not path.exists():
        raise FileError(f"{label}: not found")
    if path.is_dir():
        raise FileError(f"{label}: is a folder; give a file")
    return path


def writable_file(path, option: str = "--out") -> Path:
    """``path`` if a file can be written there, else a FileError (checked before any work)."""
    path = Path(path)
    if path.is_dir():
        raise FileError(f"{option} {path}: is a folder; give a file name, e.g. {path / 'adversarial.wav'}")
    if not path.parent.is_dir():
        raise FileError(f"{option} {path}: folder {path.parent} does not exist; create it first")
    return path


def load_model(path, option: str = "--checkpoint"):
    """(inference copy of the model, checkpoint dict) of a crossrep checkpoint, or a one-line FileError that says
    whether the file is missing, is not a PyTorch file at all (audio given by mistake), is
    some other PyTorch file, or is a crossrep checkpoint that no longer fits the code."""
    path = existing_file(path, option)
    with open(path, "rb") as f:
        if not f.read(4).startswith(_TORCH_MAGIC):
            raise FileError(f"{option} {path}: not a checkpoint (not a PyTorch file); {CHECKPOINT_HINT}")
    try:
        model, ckpt = models.load_checkpoint(path)
        return models.inference_copy(model), ckpt  # BatchNorm folded: every use here is inference
    except ValueError as exc:
        if exc.__cause__ is not None:  # torch.load refused it: a PyTorch file of something else
            raise FileError(f"{option} {path}: a PyTorch file but not a crossrep checkpoint; {CHECKPOINT_HINT}"
                            ) from None
        raise FileError(f"{option} {exc}") from None
    except RuntimeError as exc:  # load_state_dict: the weights do not fit the architecture
        raise FileError(f"{option} {path}: its weights do not fit its architecture ("
                        f"{str(exc).splitlines()[0][:120]}); retrain it with this version") from None


def class_index(name: str, classes, option: str) -> int:
    """The index of genre ``name`` (any case) among ``classes``, or a FileError listing them."""
    lowered = [c.lower() for c in classes]
    if name.lower() not in lowered:
        raise FileError(f"{option} {name!r} is not one of the model's classes: {', '.join(classes)}")
    return lowered.index(name.lower())


def decode(path, sample_rate: int) -> np.ndarray:
    """The file as mono float samples at ``sample_rate``, or a FileError naming it."""
    try:
        return audio.load(existing_file(path), sample_rate)
    except audio.AudioError as exc:
        raise FileError(f"{path}: {exc}") from exc


def stream(path, sample_rate: int):
    """``audio.stream`` of a file, its errors as FileErrors naming it."""
    blocks = audio.stream(existing_file(path), sample_rate)
    while True:
        try:
            block = next(blocks)
        except StopIteration:
            return
        except audio.AudioError as exc:
            raise FileError(f"{path}: {exc}") from None
        yield block


def sliding_windows(path, sample_rate: int, window: int, hop: int):
    """(start sample, window) of every ``window`` that fits in the file at steps of ``hop``
    (``audio.segments``' cut), decoded block by block: memory is a window and a block."""
    held, start, following = np.zeros(0, np.float32), 0, 0  # held: samples from ``start`` on
    for block in stream(path, sample_rate):
        held = np.concatenate([held, block])
        while following + window <= start + len(held):
            yield following, held[following - start:following - start + window].copy()
            following += hop
        drop = min(following - start, len(held))
        held, start = held[drop:], start + drop


def batches(items, size: int = BATCH_WINDOWS):
    """Lists of up to ``size`` consecutive items."""
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


SYNTHETIC_WARNING = ("{checkpoint} was trained on the synthetic demo data (dataset.kind: synthetic): its genres "
                     "for real recordings mean little")


def provenance_warning(checkpoint, ckpt) -> dict:
    """{"warning": ...} for a model trained on the synthetic demo data, else nothing."""
    kind = ckpt["params"].get("dataset_kind")
    return {"warning": SYNTHETIC_WARNING.format(checkpoint=checkpoint)} if kind == "synthetic" else {}


def probabilities(model, ckpt, segments) -> np.ndarray:
    """Softmax (segments, classes) of a checkpoint's model on (segments, samples) audio."""
    with torch.no_grad():
        return torch.softmax(model(model_input(ckpt, segments)), 1).numpy()


def decisions(probs, classes) -> dict:
    """A file's genre by majority vote and by the sum rule, and its mean probabilities
    (nulls, with the reason, when no window was classified)."""
    if not len(probs):
        return dict(vote=None, sum=None, mean_probabilities=None, reason="every window is silent")
    decision = metrics.track_decisions(probs, ["file"] * len(probs)).iloc[0]
    return dict(vote=classes[decision["vote"]], sum=classes[decision["sum"]],
                mean_probabilities={c: round(float(p), 4) for c, p in zip(classes, probs.mean(0), strict=True)})


def predict(file, checkpoint) -> dict:
    """Every window's genre and probability (windows at or below the checkpoint's silence
    threshold are reported as silent and left out of the decisions, as training left them
    out), and the file's vote and sum-rule genre. The file is streamed window by window."""
    model, ckpt = load_model(checkpoint)
    existing_file(file)
    classes, sr, seg = ckpt["classes"], ckpt["params"]["sample_rate"], ckpt["params"]["segment"]
    window, hop = seg["window"], int(seg["window"] * (1 - seg["overlap"]))
    threshold = seg.get("silence_threshold", 0.0)
    rows, heard = [], []
    for batch in batches(sliding_windows(file, sr, window, hop)):
        starts, segs = [s for s, _ in batch], np.stack([w for _, w in batch])
        loud = audio.power(segs) > threshold
        probs = probabilities(model, ckpt, segs[loud]) if loud.any() else np.zeros((0, len(classes)), np.float32)
        heard.append(probs)
        it = iter(probs)
        for start, is_loud in zip(starts, loud, strict=True):
            row = dict(start_s=round(start / sr, 3))
            if is_loud:
                p = next(it)
                row |= dict(genre=classes[int(p.argmax())], probability=round(float(p.max()), 4))
            else:
                row |= dict(genre=None, probability=None, silent=True)
            rows.append(row)
    if not rows:
        raise FileError(f"{file}: too short; the model needs at least one {window / sr:.2f} s segment")
    return dict(file=str(file), model=ckpt["kind"], segments=rows, silent_segments=sum("silent" in r for r in rows),
                **decisions(np.concatenate(heard), classes), **provenance_warning(checkpoint, ckpt))


def attack(file, checkpoint, out, *, method: str, eps: float, step: float = 0.1, iterations: int = 10,
           momentum: float = 1.0, label: str | None = None, genre: str | None = None, target: str | None = None,
           transfer=None, griffin_lim_iterations: int = 32, seed: int = 0) -> dict:
    """Attack a file window by window (non-overlapping model windows, the last zero-padded) on
    a 2D CNN (eps in dB of its spectrogram, audio rebuilt with the clean phase, or for mel by
    Griffin-Lim) or on the 1D CNN (eps x the file's RMS per sample); write the adversarial
    audio to ``out`` as the 16-bit WAV an attacker ships, and measure and classify what was
    written. The same per-window code as the transfer study's (``study.perturb``), streamed
    a batch of windows at a time (a first pass measures the file's RMS). ``label``: the
    labels attacked (predicted | truth; default truth when ``genre`` is given, else
    predicted); ``transfer``: another checkpoint that classifies both versions. Every file
    and option is checked before any work starts."""
    from .study.perturb import Source, rebuilt_windows

    model, ckpt = load_model(checkpoint)
    transferred = load_model(transfer, "--transfer") if transfer else None
    existing_file(file)
    writable_file(out)
    classes, sr, window = ckpt["classes"], ckpt["params"]["sample_rate"], ckpt["params"]["segment"]["window"]
    label = label or ("truth" if genre is not None else "predicted")
    truth = labels = None
    if target is not None:
        labels = class_index(target, classes, "--target")
    elif label == "truth":
        if genre is None:
            raise FileError(f"--label truth needs --genre, the file's genre: one of {', '.join(classes)}")
        truth = class_index(genre, classes, "--genre")
    length, energy = 0, 0.0
    for block in stream(file, sr):  # first pass: the file's length and RMS (the waveform budget's unit)
        length, energy = length + len(block), energy + float(np.dot(block.astype(np.float64), block))
    if length < window:
        raise FileError(f"{file}: too short ({length / sr:.2f} s); the model needs at least one "
                        f"{window / sr:.2f} s segment")
    source_name = representation_of(ckpt["kind"]) or "cnn1d"
    transform = None
    if source_name != "cnn1d":
        transform = Spectrogram(SpectrogramConfig.from_params(ckpt["params"]["spectrogram"], sr))
    iterative = {"eps": eps, "step": step, "iterations": iterations}
    attack_params = dict(label=label, targeted=target is not None, clip_to_range=False, fgsm={"eps": eps},
                         bim=iterative, pgd=iterative, di_fgsm=iterative, mi_fgsm=dict(iterative, momentum=momentum),
                         di_mi_fgsm=dict(iterative, momentum=momentum), diversity=asdict(Diversity()))
    source = Source(source_name, model, len(classes), transform, griffin_lim_iterations)
    path, name, rms = SHIPPED_PATH[source_name], Path(file).name, max(np.sqrt(energy / length), 1e-8)
    scorers = {"": (model, ckpt)} | ({"transfer_": transferred} if transferred else {})
    probs = {f"{who}{when}": [] for who in scorers for when in ("before", "after")}
    sums = Loudness()
    with atomic_path(out) as tmp, sf.SoundFile(tmp, "w", sr, 1, "PCM_16", format="WAV") as wav:
        for batch in batches(enumerate(tiles(file, sr, window))):
            first, windows = batch[0][0], np.stack([w for _, (w, _) in batch])
            kept = np.array([n for _, (_, n) in batch])  # the file's samples in each window
            n = len(batch)
            reference, adversarial = (at_eps[path] for at_eps in rebuilt_windows(
                source, windows, clip_rms=np.full(n, rms), keys=[f"{name}#tile{first + j}" for j in range(n)],
                truth=None if truth is None else np.full(n, truth), kind=method, eps_values=[0.0, eps],
                labels=None if labels is None else np.full(n, labels), attack_params=attack_params, seed=seed))
            mask = np.arange(window)[None] < kept[:, None]  # the padding is not shipped
            reference, adversarial = (from_pcm16(to_pcm16(x)) * mask for x in (reference, adversarial))
            wav.write(np.concatenate([row[:k] for row, k in zip(to_pcm16(adversarial), kept, strict=True)]))
            sums.add(reference[mask], adversarial[mask], windows[mask])
            for who, (m, c) in scorers.items():
                probs[f"{who}before"].append(probabilities(m, c, reference))
                probs[f"{who}after"].append(probabilities(m, c, adversarial))
    info = sf.info(str(file))
    result = dict(file=str(file), out=str(out), model=ckpt["kind"], attack=method, eps=eps,
                  eps_unit="x RMS" if source_name == "cnn1d" else "dB", windows=-(-length // window),
                  written=dict(sample_rate=sr, channels=1, subtype="PCM_16"),
                  input=dict(sample_rate=info.samplerate, channels=info.channels),
                  **sums.figures(), **provenance_warning(checkpoint, ckpt))
    for key, parts in probs.items():
        who = ckpt if not key.startswith("transfer_") else transferred[1]
        result[key] = decisions(np.concatenate(parts), who["classes"])
    if transferred:
        result["transfer_model"] = transferred[1]["kind"]
    return result


def tiles(file, sample_rate: int, window: int):
    """(window, samples of the file in it) for the file cut end to end, the last window
    zero-padded (``study.clips.tile``), decoded block by block."""
    held = np.zeros(0, np.float32)
    for block in stream(file, sample_rate):
        held = np.concatenate([held, block])
        while len(held) >= window:
            yield held[:window].copy(), window
            held = held[window:]
    if len(held):
        yield np.pad(held, (0, window - len(held))), len(held)


class Loudness:
    """The perturbation's true SNR against the clean rebuild and against the original, and
    the authors' level ratio (not an SNR), from power sums accumulated window by window
    (``metrics.snr_db_of_powers``, ``metrics.level_ratio_db_of_powers``)."""

    def __init__(self):
        self.n, self.sums = 0, dict(reference=0.0, adversarial=0.0, original=0.0, noise=0.0, noise_vs_original=0.0)

    def add(self, reference, adversarial, original) -> None:
        signals = dict(reference=reference, adversarial=adversarial, original=original,
                       noise=np.asarray(adversarial, np.float64) - reference,
                       noise_vs_original=np.asarray(adversarial, np.float64) - original)
        for key, x in signals.items():
            x = np.asarray(x, np.float64)
            self.sums[key] += float(x @ x)
        self.n += len(reference)

    def figures(self) -> dict:
        p = {key: total / self.n for key, total in self.sums.items()}
        return strict_db(dict(true_snr_db=metrics.snr_db_of_powers(p["reference"], p["noise"]),
                              snr_vs_original_db=metrics.snr_db_of_powers(p["original"], p["noise_vs_original"]),
                              level_ratio_db=metrics.level_ratio_db_of_powers(p["reference"], p["adversarial"])))


def strict_db(figures: dict) -> dict:
    """dB figures fit for strict JSON: a NaN (silent reference) or infinite one (identical
    signals) becomes null, with its reason under "notes"."""
    out, notes = {}, {}
    for key, value in figures.items():
        value = float(value)
        out[key] = value if np.isfinite(value) else None
        if np.isnan(value):
            notes[key] = "undefined: the reference is silent"
        elif np.isinf(value):
            notes[key] = "infinite: the two signals are identical"
    return out | ({"notes": notes} if notes else {})


def compare(reference, degraded, sample_rate: int = 22050) -> dict:
    """How loud and how audible ``degraded``'s difference from ``reference`` is (any two
    versions of the same audio, any rates: both are resampled to ``sample_rate``)."""
    from .study.quality import VISQOL_CEILING, Visqol

    ref, deg = decode(reference, sample_rate), decode(degraded, sample_rate)
    if len(ref) != len(deg):
        raise FileError(f"{reference} has {len(ref)} samples and {degraded} {len(deg)} at {sample_rate} Hz: "
                        "compare needs two versions of the same audio")
    if len(ref) < VISQOL_MIN_SECONDS * sample_rate:
        raise FileError(f"{reference}: {len(ref) / sample_rate:.2f} s; compare needs at least "
                        f"{VISQOL_MIN_SECONDS:g} s (ViSQOL's shortest comparison)")
    figures = strict_db(dict(true_snr_db=metrics.snr_db(ref, deg), level_ratio_db=metrics.level_ratio_db(ref, deg)))
    return dict(reference=str(reference), degraded=str(degraded), sample_rate=sample_rate, **figures,
                lsd_db=float(metrics.log_spectral_distance_db(ref, deg)),
                visqol_moslqo=Visqol().mos(ref, deg, sample_rate), visqol_ceiling=VISQOL_CEILING)
