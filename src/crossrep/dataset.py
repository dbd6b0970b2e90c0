"""Datasets: the track manifest (clips, genres, folds, status) and segment shards.

A dataset is a folder ``root/<genre>/<audio files>`` (GTZAN's own layout is one;
the synthetic dataset is generated into one). Each recording is decoded, cut into
clips of ``clip_seconds`` (a last clip within ``pad_tolerance_seconds`` of full length
is zero-padded), and every clip of one recording lands in the same fold. Unusable
files are kept in the manifest with status ``skipped`` and the reason.
"""
from __future__ import annotations

import os
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from . import audio

COLUMNS = ["track_id", "source", "genre", "label", "fold", "offset", "samples", "status", "reason"]


class DatasetError(ValueError):
    """The dataset folder cannot give a usable dataset; the message says what to fix."""


def files(root, genres) -> list[str]:
    """Every regular file under ``root/<genre>/`` (what the manifest reads): a workflow input,
    so a recording added, removed or changed reruns the manifest and what follows."""
    return [str(path) for _, path in scan(root, genres) if path.is_file()]


def scan(root, genres) -> list[tuple[str, Path]]:
    """(genre, path) of every file under ``root/<genre>/``, sorted (file-system order never matters)."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"dataset.root: {root} is not a folder; expected root/<genre>/<audio files>")
    found = []
    for genre in genres:
        folder = root / genre
        if not folder.is_dir():
            present = sorted(p.name for p in root.iterdir() if p.is_dir())
            raise DatasetError(f"dataset.root: genre folder {folder} is missing (found: {present}); "
                               "create it or remove the genre from dataset.genres")
        # followlinks=False: a symlink loop cannot recurse forever
        for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            found += [(genre, Path(dirpath) / f) for f in sorted(filenames) if not f.startswith(".")]
    return found


def _clips(n: int, clip: int, tolerance: int, window: int, sample_rate: int):
    """(offset, samples, status, note) of the clips cut from a recording of ``n`` samples."""
    if n < window:
        raise audio.AudioError(f"too short: {n / sample_rate:.2f} s is less than one "
                               f"{window / sample_rate:.2f} s segment")
    full, rest = divmod(n, clip)
    clips = [(k * clip, clip, "ok", "") for k in range(full)]
    if rest and rest >= clip - tolerance:
        clips.append((full * clip, rest, "padded", f"padded {(clip - rest) / sample_rate:.3f} s of silence"))
    elif full == 0:
        clips.append((0, n, "ok", f"shorter than a clip ({n / sample_rate:.2f} s), used as is"))
    if len(clips) > 1:
        clips = [(o, s, st, "; ".join(filter(None, [note, f"clip {i + 1}/{len(clips)} of one recording"])))
                 for i, (o, s, st, note) in enumerate(clips)]
    return clips


def build_manifest(root, genres, folds: int, clip_seconds: float, pad_tolerance_seconds: float,
                   sample_rate: int, window: int, silence_threshold: float, seed: int,
                   progress=None) -> pd.DataFrame:
    """Decode every file once, cut clips, assign stratified folds; return the manifest."""
    root = Path(root)
    clip = int(round(clip_seconds * sample_rate))
    tolerance = int(round(pad_tolerance_seconds * sample_rate))
    rows = []
    files = scan(root, genres)
    for genre, path in (progress(files) if progress else files):
        source = path.relative_to(root).as_posix()
        base = dict(source=source, genre=genre, label=genres.index(genre), fold=0, offset=0, samples=0)
        track = f"{genre}/{path.name}"
        try:
            if path.suffix.lower() not in audio.AUDIO_EXTENSIONS:
                raise audio.AudioError(f"not an audio file extension ({path.suffix or 'none'})")
            if not path.is_file():
                raise audio.AudioError("not a regular file (broken or looping link?)")
            signal = audio.load(path, sample_rate)
            if audio.power(signal) <= silence_threshold:
                raise audio.AudioError(f"silent: mean power {audio.power(signal):.2e} <= "
                                       f"segment.silence_threshold {silence_threshold:g}")
            clips = _clips(len(signal), clip, tolerance, window, sample_rate)
        except audio.AudioError as exc:
            rows.append(dict(base, track_id=track, status="skipped", reason=str(exc)))
            continue
        for k, (offset, samples, status, note) in enumerate(clips):
            rows.append(dict(base, track_id=track if len(clips) == 1 else f"{track}#{k}", offset=offset,
                             samples=samples, status=status, reason=note))
    manifest = pd.DataFrame(rows, columns=COLUMNS)
    assign_folds(manifest, genres, folds, seed)
    return manifest


def assign_folds(manifest: pd.DataFrame, genres, folds: int, seed: int) -> None:
    """Stratified folds by genre over recordings (clips of one recording share a fold).

    Sorted source names, shuffled by the seed, dealt round-robin: GTZAN's 100 tracks per
    genre give 34/33/33, i.e. 340/330/330 overall.
    """
    usable = manifest["status"] != "skipped"
    for genre in genres:
        sources = sorted(manifest.loc[usable & (manifest["genre"] == genre), "source"].unique())
        if len(sources) < folds:
            raise DatasetError(f"genre {genre!r} has {len(sources)} usable recording(s), fewer than "
                               f"dataset.folds={folds}; add recordings or lower dataset.folds "
                               "(see the manifest's skipped rows for why files were rejected)")
        rng = np.random.default_rng([seed, zlib.crc32(genre.encode())])
        order = rng.permutation(len(sources))
        fold_of = {sources[i]: rank % folds + 1 for rank, i in enumerate(order)}  # folds 1..K
        rows = usable & (manifest["genre"] == genre)
        manifest.loc[rows, "fold"] = manifest.loc[rows, "source"].map(fold_of)


def read_manifest(path) -> pd.DataFrame:
    frame = pd.read_csv(path, keep_default_na=False, dtype={"reason": str, "track_id": str, "source": str})
    missing = set(COLUMNS) - set(frame.columns)
    if missing:
        raise DatasetError(f"{path}: manifest lacks columns {sorted(missing)}; rebuild it")
    return frame


def clip_audio(root, rows: pd.DataFrame, sample_rate: int, clip: int):
    """Yield (row, clip samples) for manifest rows, decoding each recording once."""
    cache_source, cache_audio = None, None
    for row in rows.itertuples(index=False):
        if row.source != cache_source:
            cache_source, cache_audio = row.source, audio.load(Path(root) / row.source, sample_rate)
        samples = cache_audio[row.offset:row.offset + row.samples]
        if row.status == "padded":
            samples = np.pad(samples, (0, clip - len(samples)))
        yield row, samples
