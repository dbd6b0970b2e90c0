"""Command line for audio files: ``crossrep predict``, ``crossrep attack`` and ``crossrep compare``.

predict and attack read everything they need (sample rate, segmentation, spectrogram
settings, normalisation, class names) from the checkpoint, so any trained fold model
works alone; compare needs no model.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from . import audio, metrics, models
from .attacks import METHODS
from .features import Spectrogram, SpectrogramConfig, model_input


class CLIError(Exception):
    pass


def _load_model(path):
    try:
        model, ckpt = models.load_checkpoint(path)
    except (FileNotFoundError, ValueError) as exc:
        raise CLIError(str(exc)) from exc
    return model, ckpt


def _segments(path, ckpt, overlap=None) -> tuple[np.ndarray, np.ndarray, int]:
    """(segments, the decoded audio, hop) of a file, per the checkpoint's segmentation."""
    seg = ckpt["params"]["segment"]
    sr = ckpt["params"]["sample_rate"]
    try:
        signal = audio.load(path, sr)
    except audio.AudioError as exc:
        raise CLIError(f"{path}: {exc}") from exc
    window = seg["window"]
    overlap = seg["overlap"] if overlap is None else overlap
    if len(signal) < window:
        raise CLIError(f"{path}: too short ({len(signal) / sr:.2f} s); the model needs at least one "
                       f"{window / sr:.2f} s segment")
    return audio.segments(signal, window, overlap), signal, int(window * (1 - overlap))


def _probs(model, x):
    with torch.no_grad():
        return torch.softmax(model(x), 1).numpy()


def _summary(probs, classes) -> dict:
    decision = metrics.track_decisions(probs, ["file"] * len(probs)).iloc[0]
    return dict(vote=classes[decision["vote"]], sum=classes[decision["sum"]],
                mean_probabilities={c: round(float(p), 4) for c, p in zip(classes, probs.mean(0), strict=True)})


def predict(args) -> dict:
    model, ckpt = _load_model(args.checkpoint)
    classes = ckpt["classes"]
    segs, _, hop = _segments(args.file, ckpt)
    probs = _probs(model, model_input(ckpt, segs))
    sr = ckpt["params"]["sample_rate"]
    result = dict(file=str(args.file), model=ckpt["kind"], segments=[
        dict(start_s=round(i * hop / sr, 3), genre=classes[int(p.argmax())], probability=round(float(p.max()), 4))
        for i, p in enumerate(probs)], **_summary(probs, classes))
    if args.json:
        print(json.dumps(result, indent=2))
        return result
    print(f"{args.file}: {len(probs)} segment(s), model {ckpt['kind']}")
    for s in result["segments"]:
        print(f"  {s['start_s']:8.2f} s  {s['genre']:<12s} {s['probability']:.3f}")
    print(f"majority vote: {result['vote']}")
    print(f"sum rule     : {result['sum']}")
    ranked = sorted(result["mean_probabilities"].items(), key=lambda kv: -kv[1])
    print("mean probabilities: " + ", ".join(f"{c} {p:.3f}" for c, p in ranked[:5]))
    return result


def attack_file(args) -> dict:
    """Attack a file window by window (non-overlapping model windows, the last zero-padded) on
    a 2D CNN (eps in dB of its spectrogram, audio rebuilt with the clean phase, or for mel by
    Griffin-Lim) or on the 1D CNN (eps x the file's RMS per sample); write the adversarial
    audio. The same code path as the transfer study's (``study.perturb``)."""
    from .study import CLEAN
    from .study.clips import tile
    from .study.perturb import Source, rebuilt_clips

    model, ckpt = _load_model(args.checkpoint)
    classes, sr, window = ckpt["classes"], ckpt["params"]["sample_rate"], ckpt["params"]["segment"]["window"]
    source_name = "cnn1d" if ckpt["kind"] == "cnn1d" else ckpt["kind"].split("_")[1]
    _, signal, _ = _segments(args.file, ckpt)
    n_windows = len(tile(signal, window))
    transform = None
    if source_name != "cnn1d":
        transform = Spectrogram(SpectrogramConfig.from_params(ckpt["params"]["spectrogram"], sr))
    step = {"eps": args.eps, "step": args.step, "iterations": args.iterations}
    attack_params = dict(label=args.label, targeted=args.target is not None, clip_to_range=False,
                         fgsm={"eps": args.eps}, bim=step, pgd=step)
    truth = labels = None
    if args.target is not None:
        if args.target not in classes:
            raise CLIError(f"--target {args.target!r} is not one of the model's classes: {', '.join(classes)}")
        labels = np.array([classes.index(args.target)])
    elif args.label == "truth":
        if args.genre not in classes:
            raise CLIError(f"--label truth needs --genre, one of: {', '.join(classes)}")
        truth = np.array([classes.index(args.genre)])
    source = Source(source_name, model, len(classes), transform, args.griffin_lim_iterations)
    common = dict(track_ids=[Path(args.file).name], window=window, attack_params=attack_params, seed=args.seed,
                  truth=truth, labels=labels)
    path = {"stft": "clean_phase", "mel": "griffin_lim", "cnn1d": "waveform"}[source_name]
    reference = rebuilt_clips(source, signal[None], kind=CLEAN, eps=0.0, **common)[path][0]
    adversarial = rebuilt_clips(source, signal[None], kind=args.attack, eps=args.eps, **common)[path][0]
    audio.write_wav(args.out, adversarial, sr)
    before = _probs(model, model_input(ckpt, tile(reference, window)))
    after = _probs(model, model_input(ckpt, tile(adversarial, window)))
    unit = "x RMS" if source_name == "cnn1d" else "dB"
    result = dict(file=str(args.file), out=str(args.out), model=ckpt["kind"], attack=args.attack, eps=args.eps,
                  eps_unit=unit, before=_summary(before, classes), after=_summary(after, classes),
                  **_loudness(reference, adversarial, signal))
    if args.transfer:
        model_t, ckpt_t = _load_model(args.transfer)
        result["transfer_model"] = ckpt_t["kind"]
        result["transfer_before"] = _summary(_probs(model_t, model_input(ckpt_t, tile(reference, window))),
                                             ckpt_t["classes"])
        result["transfer_after"] = _summary(_probs(model_t, model_input(ckpt_t, tile(adversarial, window))),
                                            ckpt_t["classes"])
    if args.json:
        print(json.dumps(result, indent=2))
        return result
    print(f"{args.file}: {args.attack.upper()} eps={args.eps:g} {unit} on {ckpt['kind']}, {n_windows} "
          f"window(s) -> {args.out}")
    print(f"{ckpt['kind']} on the clean rebuild: vote {result['before']['vote']}, sum {result['before']['sum']}")
    print(f"{ckpt['kind']} on the adversarial audio: vote {result['after']['vote']}, sum {result['after']['sum']}")
    if args.transfer:
        print(f"{result['transfer_model']} on the clean rebuild: {result['transfer_before']['sum']}; "
              f"on the adversarial audio: {result['transfer_after']['sum']}")
    print(f"true SNR vs clean rebuild: {result['true_snr_db']:.2f} dB; vs original: "
          f"{result['snr_vs_original_db']:.2f} dB; authors' level ratio: {result['level_ratio_db']:.2f} dB")
    return result


def _loudness(reference, adversarial, original) -> dict:
    return dict(true_snr_db=float(metrics.snr_db(reference, adversarial)),
                snr_vs_original_db=float(metrics.snr_db(original, adversarial)),
                level_ratio_db=float(metrics.level_ratio_db(reference, adversarial)))


def compare(args) -> dict:
    """How loud and how audible DEG's difference from REF is (any two files, any rates)."""
    from .study.quality import VISQOL_CEILING, Visqol

    signals = []
    for path in (args.reference, args.degraded):
        try:
            signals.append(audio.load(path, args.sample_rate))
        except audio.AudioError as exc:
            raise CLIError(f"{path}: {exc}") from exc
    ref, deg = signals
    if len(ref) != len(deg):
        raise CLIError(f"{args.reference} has {len(ref)} samples and {args.degraded} {len(deg)} at "
                       f"{args.sample_rate} Hz: compare needs two versions of the same audio")
    result = dict(reference=str(args.reference), degraded=str(args.degraded), sample_rate=args.sample_rate,
                  true_snr_db=float(metrics.snr_db(ref, deg)),
                  level_ratio_db=float(metrics.level_ratio_db(ref, deg)),
                  lsd_db=float(metrics.log_spectral_distance_db(ref, deg)),
                  visqol_moslqo=Visqol().mos(ref, deg, args.sample_rate), visqol_ceiling=VISQOL_CEILING)
    if args.json:
        print(json.dumps(result, indent=2))
        return result
    print(f"true SNR {result['true_snr_db']:.2f} dB (10 log10 P(ref) / P(deg - ref)); authors' level ratio "
          f"{result['level_ratio_db']:.2f} dB (not an SNR); log-spectral distance {result['lsd_db']:.2f} dB; "
          f"ViSQOL v3 audio MOS-LQO {result['visqol_moslqo']:.2f} (ceiling {VISQOL_CEILING})")
    return result


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="crossrep", description=__doc__)
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("predict", help="classify an audio file with a trained checkpoint")
    p.add_argument("file")
    p.add_argument("--checkpoint", required=True, help="models/<model>/fold<k>.pt")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=predict)
    a = sub.add_parser("attack", help="attack a file on one model and write the adversarial audio")
    a.add_argument("file")
    a.add_argument("--checkpoint", required=True,
                   help="models/<model>/fold<k>.pt: a 2D CNN (spectrogram attack) or the 1D CNN (waveform attack)")
    a.add_argument("--attack", choices=METHODS, default="bim")
    a.add_argument("--eps", type=float, default=0.3,
                   help="L-inf bound: dB of the spectrogram (2D CNN) or x the file's RMS per sample (1D CNN)")
    a.add_argument("--step", type=float, default=0.1, help="BIM/PGD step, in the units of --eps (default 0.1)")
    a.add_argument("--iterations", type=int, default=10)
    a.add_argument("--label", choices=["predicted", "truth"], default="predicted")
    a.add_argument("--genre", help="the file's true genre (with --label truth)")
    a.add_argument("--target", help="targeted attack towards this genre")
    a.add_argument("--transfer", help="another checkpoint to classify the clean and adversarial audio")
    a.add_argument("--griffin-lim-iterations", type=int, default=32)
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--out", required=True, help="output WAV (16-bit)")
    a.add_argument("--json", action="store_true")
    a.set_defaults(func=attack_file)
    c = sub.add_parser("compare", help="true SNR, level ratio, log-spectral distance and ViSQOL of two files")
    c.add_argument("reference")
    c.add_argument("degraded")
    c.add_argument("--sample-rate", type=int, default=22050, help="both files are resampled to it (default 22050)")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=compare)
    return ap


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    if args.command == "attack" and (args.eps < 0 or args.step <= 0 or args.iterations < 1):
        print("crossrep: error: need --eps >= 0, --step > 0 and --iterations >= 1", file=sys.stderr)
        return 2
    try:
        args.func(args)
    except CLIError as exc:
        print(f"crossrep: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
