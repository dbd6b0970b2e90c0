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


def print_prediction(result: dict) -> None:
    print(f"{result['file']}: {len(result['segments'])} segment(s), model {result['model']}")
    for s in result["segments"]:
        print(f"  {s['start_s']:8.2f} s  {s['genre']:<12s} {s['probability']:.3f}")
    print(f"majority vote: {result['vote']}")
    print(f"sum rule     : {result['sum']}")
    ranked = sorted(result["mean_probabilities"].items(), key=lambda kv: -kv[1])
    print("mean probabilities: " + ", ".join(f"{c} {p:.3f}" for c, p in ranked[:5]))


def print_attack(result: dict) -> None:
    model = result["model"]
    print(f"{result['file']}: {result['attack'].upper()} eps={result['eps']:g} {result['eps_unit']} on {model}, "
          f"{result['windows']} window(s) -> {result['out']}")
    print(f"{model} on the clean rebuild: vote {result['before']['vote']}, sum {result['before']['sum']}")
    print(f"{model} on the adversarial audio: vote {result['after']['vote']}, sum {result['after']['sum']}")
    if "transfer_model" in result:
        print(f"{result['transfer_model']} on the clean rebuild: {result['transfer_before']['sum']}; "
              f"on the adversarial audio: {result['transfer_after']['sum']}")
    print(f"true SNR vs clean rebuild: {result['true_snr_db']:.2f} dB; vs original: "
          f"{result['snr_vs_original_db']:.2f} dB; authors' level ratio: {result['level_ratio_db']:.2f} dB")


def print_comparison(result: dict) -> None:
    print(f"true SNR {result['true_snr_db']:.2f} dB (10 log10 P(ref) / P(deg - ref)); authors' level ratio "
          f"{result['level_ratio_db']:.2f} dB (not an SNR); log-spectral distance {result['lsd_db']:.2f} dB; "
          f"ViSQOL v3 audio MOS-LQO {result['visqol_moslqo']:.2f} (ceiling {result['visqol_ceiling']})")


def run(args) -> dict:
    """The library call one parsed command stands for."""
    if args.command == "predict":
        return files.predict(args.file, args.checkpoint)
    if args.command == "attack":
        return files.attack(args.file, args.checkpoint, args.out, method=args.attack, eps=args.eps, step=args.step,
                            iterations=args.iterations, label=args.label, genre=args.genre, target=args.target,
                            transfer=args.transfer, griffin_lim_iterations=args.griffin_lim_iterations,
                            seed=args.seed)
    return files.compare(args.reference, args.degraded, args.sample_rate)


PRINTERS = {"predict": print_prediction, "attack": print_attack, "compare": print_comparison}


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="crossrep", description=__doc__)
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("predict", help="classify an audio file with a trained checkpoint")
    p.add_argument("file")
    p.add_argument("--checkpoint", required=True, help="models/<model>/fold<k>.pt")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
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
    c = sub.add_parser("compare", help="true SNR, level ratio, log-spectral distance and ViSQOL of two files")
    c.add_argument("reference")
    c.add_argument("degraded")
    c.add_argument("--sample-rate", type=int, default=22050, help="both files are resampled to it (default 22050)")
    c.add_argument("--json", action="store_true")
    return ap


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    if args.command == "attack" and (args.eps < 0 or args.step <= 0 or args.iterations < 1):
        print("crossrep: error: need --eps >= 0, --step > 0 and --iterations >= 1", file=sys.stderr)
        return 2
    try:
        result = run(args)
    except files.FileError as exc:
        print(f"crossrep: error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        PRINTERS[args.command](result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
