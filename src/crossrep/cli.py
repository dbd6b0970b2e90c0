"""Command line for audio files: ``crossrep predict``, ``crossrep attack`` and ``crossrep compare``.

predict and attack read everything they need (sample rate, segmentation, spectrogram
settings, normalisation, class names) from the checkpoint, so any trained fold model
works alone; compare needs no model. The work is done by ``crossrep.files``; this module
parses the arguments and prints the results.
"""
from __future__ import annotations

import argparse
import json
import sys

from . import files
from .attacks import METHODS


def db(result: dict, key: str) -> str:
    """A dB figure for text, or why there is none."""
    value = result[key]
    return f"{value:.2f} dB" if value is not None else result["notes"][key]


def print_prediction(result: dict) -> None:
    silent = f", {result['silent_segments']} silent" if result["silent_segments"] else ""
    print(f"{result['file']}: {len(result['segments'])} segment(s){silent}, model {result['model']}")
    for s in result["segments"]:
        verdict = "(silent: not classified)" if s.get("silent") else f"{s['genre']:<12s} {s['probability']:.3f}"
        print(f"  {s['start_s']:8.2f} s  {verdict}")
    if result["vote"] is None:
        print(f"no decision: {result['reason']}")
        return
    print(f"majority vote: {result['vote']}")
    print(f"sum rule     : {result['sum']}")
    ranked = sorted(result["mean_probabilities"].items(), key=lambda kv: -kv[1])
    print("mean probabilities: " + ", ".join(f"{c} {p:.3f}" for c, p in ranked[:5]))


def print_attack(result: dict) -> None:
    model, written, given = result["model"], result["written"], result["input"]
    print(f"{result['file']}: {result['attack'].upper()} eps={result['eps']:g} {result['eps_unit']} on {model}, "
          f"{result['windows']} window(s) -> {result['out']}")
    print(f"written: {written['sample_rate']} Hz, mono, 16-bit PCM (the model's format; the input was "
          f"{given['sample_rate']} Hz, {given['channels']} channel(s))")
    print(f"{model} on the clean rebuild: vote {result['before']['vote']}, sum {result['before']['sum']}")
    print(f"{model} on the adversarial audio: vote {result['after']['vote']}, sum {result['after']['sum']}")
    if "transfer_model" in result:
        print(f"{result['transfer_model']} on the clean rebuild: {result['transfer_before']['sum']}; "
              f"on the adversarial audio: {result['transfer_after']['sum']}")
    print(f"true SNR vs clean rebuild: {db(result, 'true_snr_db')}; vs original: {db(result, 'snr_vs_original_db')}; "
          f"authors' level ratio: {db(result, 'level_ratio_db')}")


def print_comparison(result: dict) -> None:
    print(f"true SNR {db(result, 'true_snr_db')} (10 log10 P(ref) / P(deg - ref)); authors' level ratio "
          f"{db(result, 'level_ratio_db')} (not an SNR); log-spectral distance {result['lsd_db']:.2f} dB; "
          f"ViSQOL v3 audio MOS-LQO {result['visqol_moslqo']:.2f} (ceiling {result['visqol_ceiling']})")


def run(args) -> dict:
    """The library call one parsed command stands for."""
    if args.command == "predict":
        return files.predict(args.file, args.checkpoint)
    if args.command == "attack":
        return files.attack(args.file, args.checkpoint, args.out, method=args.attack, eps=args.eps, step=args.step,
                            iterations=args.iterations, momentum=args.momentum, label=args.label, genre=args.genre,
                            target=args.target, transfer=args.transfer,
                            griffin_lim_iterations=args.griffin_lim_iterations, seed=args.seed)
    return files.compare(args.reference, args.degraded, args.sample_rate)


PRINTERS = {"predict": print_prediction, "attack": print_attack, "compare": print_comparison}


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("crossrep")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def parser() -> argparse.ArgumentParser:
    defaults = argparse.ArgumentDefaultsHelpFormatter
    ap = argparse.ArgumentParser(prog="crossrep", description=__doc__, formatter_class=defaults)
    ap.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("predict", help="classify an audio file with a trained checkpoint", formatter_class=defaults)
    p.add_argument("file")
    p.add_argument("--checkpoint", required=True, help="models/<model>/fold<k>.pt")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    a = sub.add_parser("attack", help="attack a file on one model and write the adversarial audio",
                       formatter_class=defaults)
    a.add_argument("file")
    a.add_argument("--checkpoint", required=True,
                   help="models/<model>/fold<k>.pt: a 2D CNN (spectrogram attack) or the 1D CNN (waveform attack)")
    a.add_argument("--attack", choices=METHODS, default="bim")
    a.add_argument("--eps", type=float, default=0.3,
                   help="L-inf bound: dB of the spectrogram (2D CNN) or x the file's RMS per sample (1D CNN)")
    a.add_argument("--step", type=float, default=0.1, help="iterative attacks' step, in the units of --eps")
    a.add_argument("--iterations", type=int, default=10, help="iterative attacks' iterations")
    a.add_argument("--momentum", type=float, default=1.0, help="mi_fgsm / di_mi_fgsm: decay of the gradient sum")
    a.add_argument("--label", choices=["predicted", "truth"],
                   help="labels attacked: the model's predictions, or the file's genre (--genre); "
                        "default truth with --genre, else predicted")
    a.add_argument("--genre", help="the file's true genre, one of the model's classes (any case)")
    a.add_argument("--target", help="targeted attack towards this genre")
    a.add_argument("--transfer", help="another checkpoint to classify the clean and adversarial audio")
    a.add_argument("--griffin-lim-iterations", type=int, default=32, help="mel attacks' phase reconstruction")
    a.add_argument("--seed", type=int, default=0, help="PGD's random start and Griffin-Lim's initial phase")
    a.add_argument("--out", required=True, help="output WAV (16-bit PCM, mono, at the model's sample rate)")
    a.add_argument("--json", action="store_true", help="print JSON instead of text")
    c = sub.add_parser("compare", help="true SNR, level ratio, log-spectral distance and ViSQOL of two files",
                       formatter_class=defaults)
    c.add_argument("reference")
    c.add_argument("degraded")
    c.add_argument("--sample-rate", type=int, default=22050, help="both files are resampled to it")
    c.add_argument("--json", action="store_true", help="print JSON instead of text")
    return ap


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    if args.command == "attack":
        bad = [f"{option} {value:g} (needs {need})" for option, value, ok, need in (
            ("--eps", args.eps, args.eps >= 0, ">= 0"), ("--step", args.step, args.step > 0, "> 0"),
            ("--momentum", args.momentum, args.momentum >= 0, ">= 0"),
            ("--iterations", args.iterations, args.iterations >= 1, ">= 1")) if not ok]
        if bad:
            print(f"crossrep: error: {'; '.join(bad)}", file=sys.stderr)
            return 2
    try:
        result = run(args)
    except files.FileError as exc:
        print(f"crossrep: error: {exc}", file=sys.stderr)
        return 2
    if "warning" in result:
        print(f"crossrep: warning: {result['warning']}", file=sys.stderr)
    if args.json:
        print(json.dumps(result, indent=2, allow_nan=False))  # strict JSON: non-finite figures are nulls
    else:
        PRINTERS[args.command](result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
