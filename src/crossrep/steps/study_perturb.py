"""Rule ``study_perturb``: one source's attacks and noise control on one fold's studied clips,
at every eps of its sweep, rebuilt into whole-clip audio; how loud each rebuilt clip is."""
from __future__ import annotations

import numpy as np

from .. import models
from ..features import Spectrogram, SpectrogramConfig
from ..reconstruction import NNLS_ITERATIONS
from ..runtime import log, progress
from ..shards import open_shard, read_strings, write_csv, write_shard
from ..study import CLEAN, NOISE, PATHS, SOURCE_MODEL
from ..study.clips import tile
from ..study.perturb import Source, rebuilt_clips
from ..study.quality import Visqol, clip_quality


def run(*, clips, checkpoint, audio_out, quality_out, source: str, params: dict) -> None:
    """For every clip of ``clips``: the clean rebuild of each path of ``source`` (kind ``none``,
    eps 0) and, per perturbation (``attack.methods`` + ``noise``) and eps, the rebuilt clip;
    audio to ``audio_out``, per-clip SNRs / LSD / ViSQOL to ``quality_out`` (CSV).
    """
    model, ckpt = models.load_checkpoint(checkpoint, "cpu")
    attack_params, study = params["attack"], params["study"]
    window, sample_rate, seed = params["segment"]["window"], params["audio"]["sample_rate"], params["seed"]
    transform = None
    if source != "cnn1d":
        transform = Spectrogram(SpectrogramConfig.from_params(params["spectrogram"], sample_rate))
    rebuild = params.get("reconstruction", {})  # mel only
    src = Source(source, model, len(ckpt["classes"]), transform, rebuild.get("griffin_lim_iterations", 32),
                 rebuild.get("nnls_iterations", NNLS_ITERATIONS))
    conditions = [(CLEAN, 0.0)] + [(kind, float(eps)) for kind in [*attack_params["methods"], NOISE]
                                   for eps in study["sources"][source]["eps"]]
    visqol = Visqol() if study["visqol_clips"] else None
    quality = {}  # column -> values, in the order of each row's keys
    with open_shard(clips, "audio", "label", "track_id", "visqol") as h5:
        originals, labels, scored = h5["audio"][...], h5["label"][...].astype(np.int64), h5["visqol"][...]
        tracks, fold = read_strings(h5["track_id"]), int(h5.attrs["fold"])
    per_clip = len(tile(originals[0], window)) if len(originals) else 1
    clip_batch = max(1, attack_params["batch_size"] // per_clip)
    with write_shard(audio_out, source=source, fold=fold, sample_rate=sample_rate,
                     model=SOURCE_MODEL[source]) as shard:
        for start in progress(range(0, len(originals), clip_batch), f"study {source} fold {fold}"):
            part = slice(start, min(len(originals), start + clip_batch))
            clean = {}
            for kind, eps in conditions:
                rebuilt = rebuilt_clips(src, originals[part], track_ids=tracks[part], window=window, kind=kind,
                                        eps=eps, attack_params=attack_params, seed=seed, truth=labels[part])
                for path in PATHS[source]:
                    audio = rebuilt[path]
                    clean.setdefault(path, audio)
                    shard.append(audio=audio.astype(np.float32), kind=[kind] * len(audio),
                                 eps=np.full(len(audio), eps), path=[path] * len(audio),
                                 track_id=list(tracks[part]), label=labels[part].astype(np.int16))
                    figures = clip_quality(clean[path], audio, originals[part])
                    for i in range(len(audio)):
                        row = dict(source=source, fold=fold, path=path, kind=kind, eps=eps, track_id=tracks[part][i],
                                   label=int(labels[part][i]), **{k: float(v[i]) for k, v in figures.items()})
                        row["visqol"] = (visqol.mos(clean[path][i], audio[i], sample_rate)
                                         if visqol and kind != CLEAN and scored[start + i]
                                         else float("nan"))
                        for name, value in row.items():
                            quality.setdefault(name, []).append(value)
    write_csv(quality_out, quality)
    log.info("study %s fold %d: %d clips x %d conditions x %d paths", source, fold, len(originals), len(conditions),
             len(PATHS[source]))
