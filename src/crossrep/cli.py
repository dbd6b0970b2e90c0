"""Command line for one audio file: ``crossrep predict`` and ``crossrep attack``.

Both read everything they need (sample rate, segmentation, spectrogram settings,
normalisation, class names) from the checkpoint, so any trained fold model works alone.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from . import audio, metrics, models
from .attacks import METHODS, AttackConfig, attack_batch
from .features import Spectrogram, SpectrogramConfig


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


def _model_input(ckpt, segs):
    if ckpt["kind"] == "cnn1d":
        return torch.from_numpy(segs)
    cfg = SpectrogramConfig.from_params(ckpt["params"]["spectrogram"], ckpt["params"]["sample_rate"])
    return torch.from_numpy(Spectrogram(cfg).db(ckpt["kind"].split("_")[1], segs))


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
    probs = _probs(model, _model_input(ckpt, segs))
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
    """Attack every non-overlapping 5 s window of a file and write the rebuilt adversarial audio."""
    model, ckpt = _load_model(args.checkpoint)
    if ckpt["kind"] == "cnn1d":
        raise CLIError("crossrep attack needs a 2D CNN checkpoint (cnn2d_stft or cnn2d_mel)")
    rep, classes, sr = ckpt["kind"].split("_")[1], ckpt["classes"], ckpt["params"]["sample_rate"]
    window = ckpt["params"]["segment"]["window"]
    _, signal, _ = _segments(args.file, ckpt)
    n_windows = -(-len(signal) // window)

    def windows(x):  # non-overlapping windows, the last one zero-padded
        return np.pad(x, (0, n_windows * window - len(x))).reshape(n_windows, window)

    segs = windows(signal)
    cfg = SpectrogramConfig.from_params(ckpt["params"]["spectrogram"], sr)
    transform = Spectrogram(cfg)
    clean = torch.from_numpy(transform.db(rep, segs))
    attack_params = dict(label=args.label, targeted=args.target is not None, clip_to_range=False,
                         fgsm={"eps": args.eps},
                         bim={"eps": args.eps, "step": args.step, "iterations": args.iterations},
                         pgd={"eps": args.eps, "step": args.step, "iterations": args.iterations})
    cfg_attack = AttackConfig.from_params(args.attack, attack_params)
    if args.target is not None:
        if args.target not in classes:
            raise CLIError(f"--target {args.target!r} is not one of the model's classes: {', '.join(classes)}")
        labels = torch.full((n_windows,), classes.index(args.target))
    elif args.label == "truth":
        if args.genre not in classes:
            raise CLIError(f"--label truth needs --genre, one of: {', '.join(classes)}")
        labels = torch.full((n_windows,), classes.index(args.genre))
    else:
        labels = None  # the model's own prediction
    keys = [f"{Path(args.file).name}#{i}" for i in range(n_windows)]
    adv, _, _ = attack_batch(model, clean, cfg_attack, keys=keys, seed=args.seed, n_classes=len(classes),
                             labels=labels)
    clean_reference = transform.reference(rep, segs)

    def rebuild(spec):
        return transform.invert(rep, spec.numpy(), window, reference=clean_reference, seed=args.seed,
                                griffin_lim_iterations=args.griffin_lim_iterations).reshape(-1)
    reference, adversarial = rebuild(clean)[:len(signal)], rebuild(adv)[:len(signal)]
    audio.write_wav(args.out, adversarial, sr)
    before, after = _probs(model, clean), _probs(model, adv)
    result = dict(file=str(args.file), out=str(args.out), attack=args.attack, eps=cfg_attack.eps,
                  before=_summary(before, classes), after=_summary(after, classes),
                  true_snr_db=float(metrics.snr_db(reference, adversarial)),
                  snr_vs_original_db=float(metrics.snr_db(signal, adversarial)),
                  level_ratio_db=float(metrics.level_ratio_db(reference, adversarial)))
    if args.transfer:
        model1d, ckpt1d = _load_model(args.transfer)
        result["cnn1d_before"] = _summary(_probs(model1d, torch.from_numpy(windows(reference))), ckpt1d["classes"])
        result["cnn1d_after"] = _summary(_probs(model1d, torch.from_numpy(windows(adversarial))), ckpt1d["classes"])
    if args.json:
        print(json.dumps(result, indent=2))
        return result
    print(f"{args.file}: {args.attack.upper()} eps={cfg_attack.eps:g} dB on {n_windows} window(s) -> {args.out}")
    print(f"2D CNN before: vote {result['before']['vote']}, sum {result['before']['sum']}")
    print(f"2D CNN after : vote {result['after']['vote']}, sum {result['after']['sum']}")
    if args.transfer:
        print(f"1D CNN on clean rebuild: {result['cnn1d_before']['sum']}; "
              f"on adversarial: {result['cnn1d_after']['sum']}")
    print(f"true SNR vs clean rebuild: {result['true_snr_db']:.2f} dB; vs original: "
          f"{result['snr_vs_original_db']:.2f} dB; authors' level ratio: {result['level_ratio_db']:.2f} dB")
    return result


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="crossrep", description=__doc__)
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("predict", help="classify an audio file with a trained checkpoint")
    p.add_argument("file")
    p.add_argument("--checkpoint", required=True, help="models/<model>/fold<k>.pt")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=predict)
    a = sub.add_parser("attack", help="attack a file's spectrograms and write the adversarial audio")
    a.add_argument("file")
    a.add_argument("--checkpoint", required=True, help="a 2D CNN: models/cnn2d_{stft,mel}/fold<k>.pt")
    a.add_argument("--attack", choices=METHODS, default="bim")
    a.add_argument("--eps", type=float, default=0.3, help="L-inf bound in dB (default 0.3)")
    a.add_argument("--step", type=float, default=0.1, help="BIM/PGD step in dB (default 0.1)")
    a.add_argument("--iterations", type=int, default=10)
    a.add_argument("--label", choices=["predicted", "truth"], default="predicted")
    a.add_argument("--genre", help="the file's true genre (with --label truth)")
    a.add_argument("--target", help="targeted attack towards this genre")
    a.add_argument("--transfer", help="a 1D CNN checkpoint to classify the rebuilt audio")
    a.add_argument("--griffin-lim-iterations", type=int, default=32)
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--out", required=True, help="output WAV (16-bit)")
    a.add_argument("--json", action="store_true")
    a.set_defaults(func=attack_file)
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
