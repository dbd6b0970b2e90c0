"""Spectrogram throughput: the batched code (crossrep.features) against a per-segment
librosa loop, measured in the same run on the same synthetic segments.

Prints segments/second of both and the ratio (target >= 5x). Both sides compute the
STFT dB and mel dB spectrograms of every segment, as the pipeline does.
"""
from __future__ import annotations

import argparse

import librosa
import numpy as np
import torch

from crossrep import GTZAN_GENRES, synthetic
from crossrep.features import Spectrogram, SpectrogramConfig
from timing import best_seconds


def librosa_loop(segments, cfg):
    for y in segments:
        stft = np.abs(librosa.stft(y, n_fft=cfg.n_fft, hop_length=cfg.hop_length))
        librosa.amplitude_to_db(stft, ref=1.0, amin=cfg.amin, top_db=None)
        mel = librosa.feature.melspectrogram(y=y, sr=cfg.sample_rate, n_fft=cfg.n_fft, hop_length=cfg.hop_length,
                                             n_mels=cfg.n_mels, fmax=cfg.fmax, power=1.0)
        librosa.amplitude_to_db(mel, ref=1.0, amin=cfg.amin, top_db=None)


def batched(segments, cfg, batch_size):
    spec = Spectrogram(cfg)
    for start in range(0, len(segments), batch_size):
        part = segments[start:start + batch_size]
        spec.db("stft", part)
        spec.db("mel", part)


def best_rate(fn, n, repeats=3):
    return n / best_seconds(fn, repeats)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--segments", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = SpectrogramConfig()
    segments = np.stack([synthetic.generate_track(GTZAN_GENRES[i % 10], i, 0, 5.0, cfg.sample_rate)
                         for i in range(args.segments)])
    batched(segments[:2], cfg, 2)  # warm-up (allocations, FFT plans)
    librosa_loop(segments[:2], cfg)
    base = best_rate(lambda: librosa_loop(segments, cfg), len(segments))
    ours = best_rate(lambda: batched(segments, cfg, args.batch_size), len(segments))
    print(f"segments: {len(segments)} x 5 s, STFT (257x431) + mel (64x431) dB, torch threads {args.threads}")
    print(f"librosa per-segment loop : {base:8.1f} segments/s (baseline)")
    print(f"crossrep batched (b={args.batch_size:<3d}): {ours:8.1f} segments/s")
    print(f"ratio batched / loop     : {ours / base:8.2f}x  (target >= 5x)")


if __name__ == "__main__":
    main()
