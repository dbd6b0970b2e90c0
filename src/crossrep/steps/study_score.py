"""Rule ``study_score``: every target model on one source's rebuilt clips of one fold."""
from __future__ import annotations

import numpy as np

from .. import models
from ..audio import from_pcm16
from ..runtime import log, progress
from ..shards import open_shard, read_strings, write_shard
from ..study.clips import SCORE_BATCH_CLIPS
from ..study.score import clip_segments, non_silent, probabilities


def run(*, clips, rebuilt, checkpoints: dict, out, params: dict, batch_clips: int = SCORE_BATCH_CLIPS) -> None:
    """Softmax of each target (``checkpoints``: {target: path}) on every segment of every
    shipped (16-bit) rebuilt clip, cut as the clean clip is cut; one row per segment into ``out``.
    """
    seg = params["segment"]
    targets = {name: models.load_checkpoint(path, "cpu") for name, path in checkpoints.items()}
    targets = {name: (models.inference_copy(model), ckpt) for name, (model, ckpt) in targets.items()}
    with open_shard(clips, "audio", "track_id") as h5:
        keep = {track: non_silent(clip, seg["window"], seg["overlap"], seg["silence_threshold"])
                for track, clip in zip(read_strings(h5["track_id"]), h5["audio"][...], strict=True)}
    with open_shard(rebuilt, "audio", "kind", "eps", "draw", "path", "track_id", "label") as src, \
            write_shard(out, source=src.attrs["source"], fold=src.attrs["fold"], targets=list(checkpoints)) as shard:
        n = src["audio"].shape[0]
        for start in progress(range(0, n, batch_clips), f"score {src.attrs['source']} fold {src.attrs['fold']}"):
            part = slice(start, min(n, start + batch_clips))
            tracks = read_strings(src["track_id"], part)
            pieces = [clip_segments(clip, keep[track], seg["window"], seg["overlap"])
                      for clip, track in zip(from_pcm16(src["audio"][part]), tracks, strict=True)]
            counts = [len(p) for p in pieces]
            probs = probabilities(targets, np.concatenate(pieces))
            shard.append(kind=list(np.repeat(read_strings(src["kind"], part), counts)),
                         eps=np.repeat(src["eps"][part], counts), draw=np.repeat(src["draw"][part], counts),
                         path=list(np.repeat(read_strings(src["path"], part), counts)),
                         track_id=list(np.repeat(tracks, counts)),
                         segment=np.concatenate([np.flatnonzero(keep[t]) for t in tracks]).astype(np.int32),
                         label=np.repeat(src["label"][part], counts).astype(np.int16),
                         **{f"probs_{name}": p.astype(np.float32) for name, p in probs.items()})
    log.info("scored %d rebuilt clips of %s with %s", n, rebuilt, ", ".join(checkpoints))
