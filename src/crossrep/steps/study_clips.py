"""Rule ``study_clips``: the whole test clips of one fold that the transfer study perturbs."""
from __future__ import annotations

import numpy as np

from .. import dataset
from ..runtime import log
from ..shards import write_shard
from ..study import clips as study_clips


def run(*, manifest, root, out, fold: int, part: int = 1, params: dict) -> None:
    """Write study part ``part`` of test fold ``fold``'s studied clips (audio, label, track id,
    and whether ViSQOL scores the clip: ``study.visqol_clips`` of them, spread over the
    genres) to ``out``. The clips are chosen over the whole fold
    and cut into parts on batch boundaries (``study.clips.part_clips``), so splitting a fold
    changes no choice and no result.
    """
    sample_rate = params["audio"]["sample_rate"]
    clip = int(round(params["dataset"]["clip_seconds"] * sample_rate))
    table = dataset.read_manifest(manifest)
    chosen = study_clips.choose(table[(table["fold"] == fold) & (table["status"] != "skipped")],
                                params["study"]["clips_per_genre"])
    chosen["visqol"] = study_clips.spread_over_genres(chosen, params["study"]["visqol_clips"])
    rows = study_clips.study_part(chosen, part, study_clips.clips_per_part(params))
    with write_shard(out, fold=fold, part=part, sample_rate=sample_rate) as shard:
        for row, samples in dataset.clip_audio(root, rows, sample_rate, clip):
            shard.append(audio=samples[None].astype(np.float32), label=np.array([row.label], np.int16),
                         track_id=[row.track_id], visqol=np.array([row.visqol]))
    log.info("study fold %d part %d: %d of the fold's %d whole clips", fold, part, len(rows), len(chosen))
