"""Rule ``study_score``: every target model on one source's rebuilt clips of one fold (with
``study.keep_audio: listening``, ``study_perturb`` scores its clips itself, through the same
:class:`Scorer`, while their audio is in memory)."""
from __future__ import annotations

import numpy as np

from .. import models
from ..audio import from_pcm16
from ..runtime import log, progress
from ..shards import open_shard, read_strings, write_shard
from ..study.clips import SCORE_BATCH_CLIPS
from ..study.score import clip_segments, non_silent, probabilities


class Scorer:
    """Softmax of each target (``checkpoints``: {target: path}) on every segment of shipped
    whole clips, cut as the clean clips of ``clips`` are (their silent segments dropped),
    one row per segment into ``shard``."""

    def __init__(self, clips, checkpoints: dict, segment: dict):
        self.targets = {name: models.load_checkpoint(path, "cpu") for name, path in checkpoints.items()}
        self.targets = {name: (models.inference_copy(model), ckpt) for name, (model, ckpt) in self.targets.items()}
        self.window, self.overlap = segment["window"], segment["overlap"]
        with open_shard(clips, "audio", "track_id") as h5:
            self.keep = {track: non_silent(clip, self.window, self.overlap, segment["silence_threshold"])
                         for track, clip in zip(read_strings(h5["track_id"]), h5["audio"][...], strict=True)}

    def score(self, shard, audio: np.ndarray, *, kind, eps, draw, path, track_id, label) -> None:
        """Append the segments of ``audio`` (n clips, float) to ``shard``; the other arguments:
        per clip, its perturbation, eps, draw, path, track and label."""
        pieces = [clip_segments(clip, self.keep[track], self.window, self.overlap)
                  for clip, track in zip(audio, track_id, strict=True)]
        counts = [len(p) for p in pieces]
        probs = probabilities(self.targets, np.concatenate(pieces))
        shard.append(kind=list(np.repeat(kind, counts)), eps=np.repeat(eps, counts), draw=np.repeat(draw, counts),
                     path=list(np.repeat(path, counts)), track_id=list(np.repeat(track_id, counts)),
                     segment=np.concatenate([np.flatnonzero(self.keep[t]) for t in track_id]).astype(np.int32),
                     label=np.repeat(label, counts).astype(np.int16),
                     **{f"probs_{name}": p.astype(np.float32) for name, p in probs.items()})


def run(*, clips, rebuilt, checkpoints: dict, out, params: dict, batch_clips: int = SCORE_BATCH_CLIPS) -> None:
    """Every target of ``checkpoints`` on every shipped (16-bit) rebuilt clip of ``rebuilt``
    (:class:`Scorer`), into ``out``."""
    scorer = Scorer(clips, checkpoints, params["segment"])
    with open_shard(rebuilt, "audio", "kind", "eps", "draw", "path", "track_id", "label") as src, \
            write_shard(out, source=src.attrs["source"], fold=src.attrs["fold"], targets=list(checkpoints)) as shard:
        n = src["audio"].shape[0]
        for start in progress(range(0, n, batch_clips), f"score {src.attrs['source']} fold {src.attrs['fold']}"):
            part = slice(start, min(n, start + batch_clips))
            scorer.score(shard, from_pcm16(src["audio"][part]), kind=read_strings(src["kind"], part),
                         eps=src["eps"][part], draw=src["draw"][part], path=read_strings(src["path"], part),
                         track_id=read_strings(src["track_id"], part), label=src["label"][part])
    log.info("scored %d rebuilt clips of %s with %s", n, rebuilt, ", ".join(checkpoints))
