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

# Set (to anything) while deriving dvc.yaml: the workflow plans one shard part per fold, as
# the rules, not a dataset, are what is derived (the real parts come from the manifest).
PLAN_ONE_PART = "CROSSREP_PLAN_ONE_PART"
COLUMNS = ["track_id", "source", "genre", "label", "fold", "part", "offset", "samples", "status", "reason"]


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
                   progress=None, max_clips_per_recording: int | None = None, overlap: float = 0.75,
                   max_segments: int | None = None) -> pd.DataFrame:
    """Decode every file once (streamed), cut clips, assign balanced folds and shard parts;
    return the manifest.

    ``max_clips_per_recording``: keep at most this many clips of one recording, evenly
    spaced over it (the rest are rows with status ``skipped`` and the reason), so a few
    long recordings cannot dominate a genre; None keeps every clip. ``max_segments``: the
    most segments one shard part holds (:func:`assign_parts`); None: one part per fold."""
    root = Path(root)
    clip = int(round(clip_seconds * sample_rate))
    tolerance = int(round(pad_tolerance_seconds * sample_rate))
    rows = []
    files = scan(root, genres)
    for genre, path in (progress(files) if progress else files):
        source = path.relative_to(root).as_posix()
        base = dict(source=source, genre=genre, label=genres.index(genre), fold=0, part=0, offset=0, samples=0)
        track = f"{genre}/{path.name}"
        try:
            if path.suffix.lower() not in audio.AUDIO_EXTENSIONS:
                raise audio.AudioError(f"not an audio file extension ({path.suffix or 'none'})")
            if not path.is_file():
                raise audio.AudioError("not a regular file (broken or looping link?)")
            n, mean_power = _length_and_power(path, sample_rate)
            if mean_power <= silence_threshold:
                raise audio.AudioError(f"silent: mean power {mean_power:.2e} <= "
                                       f"segment.silence_threshold {silence_threshold:g}")
            clips = _clips(n, clip, tolerance, window, sample_rate)
        except audio.AudioError as exc:
            rows.append(dict(base, track_id=track, status="skipped", reason=str(exc)))
            continue
        kept = _spread(len(clips), max_clips_per_recording)
        for k, (offset, samples, status, note) in enumerate(clips):
            if k not in kept:
                status, note = "skipped", (f"clip {k + 1}/{len(clips)} not used: dataset.max_clips_per_recording="
                                           f"{max_clips_per_recording} keeps evenly spaced clips")
            rows.append(dict(base, track_id=track if len(clips) == 1 else f"{track}#{k}", offset=offset,
                             samples=samples, status=status, reason=note))
    manifest = pd.DataFrame(rows, columns=COLUMNS)
    assign_folds(manifest, genres, folds, seed)
    assign_parts(manifest, max_segments, clip, window, overlap)
    return manifest


def _spread(n: int, cap: int | None) -> set[int]:
    """Indices of the clips kept of ``n``: all, or ``cap`` evenly spaced ones (first and last included)."""
    if cap is None or n <= cap:
        return set(range(n))
    return set(np.round(np.linspace(0, n - 1, cap)).astype(int).tolist())


def assign_folds(manifest: pd.DataFrame, genres, folds: int, seed: int) -> None:
    """Folds stratified by genre that keep every recording whole and balance clip counts.

    Per genre: the recordings (sorted by name, then shuffled by the seed, so file-system
    order never matters) are dealt largest first (a stable sort by clip count), each to the
    fold with the fewest clips so far (ties: fewest recordings, then the lowest fold). The
    greedy rule leaves a genre's fold clip counts at most the largest recording's clip
    count apart (the last recording a fold received went to the then smallest fold). One-clip
    recordings are dealt round-robin in the shuffled order: GTZAN's 100 tracks per genre give
    34/33/33, i.e. 340/330/330 overall.
    """
    usable = manifest["status"] != "skipped"
    for genre in genres:
        rows = usable & (manifest["genre"] == genre)
        clips = manifest.loc[rows].groupby("source").size()
        sources = sorted(clips.index)
        if len(sources) < folds:
            raise DatasetError(f"genre {genre!r} has {len(sources)} usable recording(s), fewer than "
                               f"dataset.folds={folds}; add recordings or lower dataset.folds "
                               "(see the manifest's skipped rows for why files were rejected)")
        rng = np.random.default_rng([seed, zlib.crc32(genre.encode())])
        shuffled = [sources[i] for i in rng.permutation(len(sources))]
        load = [[0, 0, k + 1] for k in range(folds)]  # [clips, recordings, fold] (folds 1..K)
        fold_of = {}
        for source in sorted(shuffled, key=lambda s: -clips[s]):  # stable: ties keep the shuffle
            smallest = min(load)
            fold_of[source] = smallest[2]
            smallest[0] += int(clips[source])
            smallest[1] += 1
        manifest.loc[rows, "fold"] = manifest.loc[rows, "source"].map(fold_of)


def assign_parts(manifest: pd.DataFrame, max_segments: int | None, clip: int, window: int, overlap: float) -> None:
    """Shard parts: each fold's usable clips, in manifest order, packed into consecutive parts
    (1, 2, ...) of at most ``max_segments`` segments (a clip's windows, silent ones included,
    so the bound holds before silence is dropped); a clip is never split. The parts of a
    fold, read in order, are the fold's rows in the order one shard would hold them.
    Skipped rows get part 0."""
    manifest["part"] = 0
    usable = manifest["status"] != "skipped"
    for fold in sorted(manifest.loc[usable, "fold"].unique()):
        rows = manifest.index[usable & (manifest["fold"] == fold)]
        part, filled = 1, 0
        for i in rows:
            length = clip if manifest.at[i, "status"] == "padded" else int(manifest.at[i, "samples"])
            count = len(audio.segment_starts(length, window, overlap))
            if max_segments is not None and filled and filled + count > max_segments:
                part, filled = part + 1, 0
            manifest.at[i, "part"] = part
            filled += count


def fold_parts(manifest: pd.DataFrame) -> dict[int, list[int]]:
    """{fold: its part numbers} of a manifest."""
    used = manifest[manifest["status"] != "skipped"]
    return {int(f): sorted(int(p) for p in g.unique()) for f, g in used.groupby("fold")["part"]}


def read_manifest(path) -> pd.DataFrame:
    frame = pd.read_csv(path, keep_default_na=False, dtype={"reason": str, "track_id": str, "source": str})
    missing = set(COLUMNS) - set(frame.columns)
    if missing:
        raise DatasetError(f"{path}: manifest lacks columns {sorted(missing)}; rebuild it")
    return frame


def _length_and_power(path, sample_rate: int) -> tuple[int, float]:
    """(samples, mean power) of a recording at ``sample_rate``, in one streamed pass."""
    n, energy = 0, 0.0
    for block in audio.stream(path, sample_rate):
        n += len(block)
        energy += float(np.dot(block.astype(np.float64), block))
    return n, energy / max(n, 1)


def clip_audio(root, rows: pd.DataFrame, sample_rate: int, clip: int):
    """Yield (row, clip samples) for manifest rows, in their order, each recording decoded
    once as a stream (:func:`audio.clips`): memory holds a clip, not a recording. The rows
    of one recording must be consecutive and in offset order, as the manifest writes them."""
    for source, group in _runs(rows, "source"):
        spans = zip(group["offset"], group["samples"], strict=True)
        for row, samples in zip(group.itertuples(index=False),
                                audio.clips(Path(root) / source, sample_rate, spans), strict=True):
            if row.status == "padded":
                samples = np.pad(samples, (0, clip - len(samples)))
            yield row, samples


def _runs(rows: pd.DataFrame, column: str):
    """(value, rows) of each run of equal ``column`` values, in order."""
    run_id = (rows[column] != rows[column].shift()).cumsum()
    for _, group in rows.groupby(run_id, sort=False):
        yield group[column].iloc[0], group
