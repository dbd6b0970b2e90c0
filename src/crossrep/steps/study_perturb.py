"""Rule ``study_perturb``: one source's attacks and their controls on one fold's studied
clips, at every eps of its sweep, rebuilt into whole-clip audio as it would be shipped
(16-bit, clipped); how loud and how audible each shipped clip is.

``study.keep_audio``: ``all`` keeps every shipped clip for rule ``study_score`` (retraining a
target rescores, nothing is perturbed again); ``listening`` scores every clip here with every
target while its audio is in memory and keeps the audio of the listening page's clips only
(the first ``study.listening_clips`` of fold 1's first part), for collections whose shipped
audio would not fit on disk (retraining a target then perturbs again)."""
from __future__ import annotations

import contextlib

import numpy as np

from .. import models
from ..attacks import Ensemble
from ..audio import clipped_samples, from_pcm16, to_pcm16
from ..features import Spectrogram, SpectrogramConfig, reading_audio
from ..reconstruction import NNLS_ITERATIONS
from ..runtime import log, progress
from ..shards import open_shard, read_strings, write_csv, write_shard
from ..study import CLEAN, NOISE, control_kind, paths_of, spectrogram_of
from ..study.clips import tile
from ..study.controls import null_seeds, spectrum_matched
from ..study.perturb import Source, rebuilt_clips
from ..study.quality import Visqol, clip_quality
from .study_score import Scorer


def conditions(methods, noise_draws: int) -> list[tuple[str, int]]:
    """(perturbation, draw) rebuilt over the whole eps sweep for every clip: each attack on
    the trained source and on its untrained twin, and the noise control's draws. (Each
    attack's spectrum-matched null is derived from its rebuilt audio.)"""
    return ([(kind, 0) for method in methods for kind in (method, control_kind(method, "init"))]
            + [(NOISE, draw) for draw in range(noise_draws)])


class Shipper:
    """Stores shipped clips of one batch of clips and measures them: each rebuilt clip is
    quantised as a 16-bit file holds it, appended to the audio shard if the batch's ``kept``
    marks it (with ``scorer``, every clip scored into ``scores``), and its quality row (against
    the same path's shipped clean rebuild, the first clip shipped per path) added to
    ``quality``."""

    def __init__(self, shard, quality: dict, visqol, visqol_kinds, sample_rate: int, source: str, fold: int,
                 scorer: Scorer | None = None, scores=None):
        self.shard, self.quality, self.visqol, self.visqol_kinds = shard, quality, visqol, visqol_kinds
        self.sample_rate, self.source, self.fold, self.scorer, self.scores = sample_rate, source, fold, scorer, scores

    def batch(self, originals, tracks, labels, scored, kept) -> None:
        self.originals, self.tracks, self.labels, self.scored, self.clean = originals, tracks, labels, scored, {}
        self.kept = kept

    def ship(self, path: str, kind: str, eps: float, draw: int, audio: np.ndarray) -> np.ndarray:
        pcm = to_pcm16(audio)
        shipped = from_pcm16(pcm)
        clean = self.clean.setdefault(path, shipped)
        n = len(pcm)
        rows = dict(kind=np.full(n, kind, object), eps=np.full(n, eps), draw=np.full(n, draw, np.int16),
                    path=np.full(n, path, object), track_id=np.asarray(self.tracks, object),
                    label=self.labels.astype(np.int16))
        if self.kept.any():
            self.shard.append(audio=pcm[self.kept], **{k: v[self.kept] for k, v in rows.items()})
        if self.scorer:
            self.scorer.score(self.scores, shipped, **rows)
        figures = clip_quality(clean, shipped, self.originals)
        figures["clipped_samples"] = clipped_samples(audio)
        measure = self.visqol is not None and (kind, eps) in self.visqol_kinds
        for i in range(n):
            row = dict(source=self.source, fold=self.fold, path=path, kind=kind, eps=eps, draw=draw,
                       track_id=self.tracks[i], label=int(self.labels[i]),
                       **{k: float(v[i]) for k, v in figures.items()})
            row["visqol"] = (self.visqol.mos(clean[i], shipped[i], self.sample_rate) if measure and self.scored[i]
                             else float("nan"))
            for name, value in row.items():
                self.quality.setdefault(name, []).append(value)
        return shipped


def source_of(name: str, checkpoints, params: dict) -> Source:
    """Source ``name`` from its models' checkpoints (a spectrogram source: its 2D CNN's,
    round-trip-aware if its entry says so; a waveform source: each of its models', read as
    models of audio), its untrained twin with
    them (BatchNorm folded: the attacks' costliest passes run ~1.8x faster)."""
    loaded = [models.load_checkpoint(path, "cpu") for path in checkpoints]
    n_classes, seed = len(loaded[0][1]["classes"]), params["seed"]
    trained = [models.inference_copy(model) for model, _ in loaded]
    untrained = [models.inference_copy(models.untrained_like(ckpt, seed)) for _, ckpt in loaded]
    kinds = tuple(ckpt["kind"] for _, ckpt in loaded)
    sweep = params["study"]["sources"][name]
    rep = spectrogram_of(name, sweep)
    if rep:
        rebuild = params["reconstruction"] if rep == "mel" else {}
        spectrogram = Spectrogram(SpectrogramConfig.from_params(params["spectrogram"], params["audio"]["sample_rate"]))
        return Source(name, trained[0], n_classes, spectrogram, rebuild.get("griffin_lim_iterations", 32),
                      rebuild.get("nnls_iterations", NNLS_ITERATIONS), untrained=untrained[0], models=kinds,
                      representation=rep, round_trip=bool(sweep.get("round_trip")))

    def reading(nets):
        return Ensemble([reading_audio(ckpt, net) for net, (_, ckpt) in zip(nets, loaded, strict=True)])
    return Source(name, reading(trained), n_classes, untrained=reading(untrained), models=kinds)


def run(*, clips, checkpoints, audio_out, quality_out, source: str, params: dict, targets: dict | None = None,
        scores_out=None) -> None:
    """For every clip of ``clips``, per path of ``source``: the clean rebuild (perturbation
    ``none``, eps 0) and every (perturbation, draw) of :func:`conditions` at every eps, plus each
    attack's spectrum-matched null (``<method>_null``), each shipped as 16-bit audio
    (``audio.to_pcm16``) to ``audio_out``; per shipped clip its SNRs, LSD, clipped samples
    and (on the clips ``clips`` marks, for the attacks at ``study.sources.<source>.visqol_eps``)
    ViSQOL to ``quality_out`` (CSV). SNRs are taken between shipped clips. With
    ``study.keep_audio: listening``, ``targets`` ({target: checkpoint}) score every shipped
    clip into ``scores_out`` (as rule ``study_score`` would) and ``audio_out`` keeps the
    listening page's clips only (none outside fold 1's first part).
    """
    src = source_of(source, checkpoints, params)
    attack_params, study = params["attack"], params["study"]
    window, sample_rate, seed = params["segment"]["window"], params["audio"]["sample_rate"], params["seed"]
    # the STFT the spectrum-matched null randomises the phases in (a spectrogram source's own)
    spectrogram = (src.transform if not src.waveform
                   else Spectrogram(SpectrogramConfig.from_params(params["spectrogram"], sample_rate)))
    methods, sweep = attack_params["methods"], study["sources"][source]
    eps_values, todo = [float(eps) for eps in sweep["eps"]], conditions(methods, study["noise_draws"])
    visqol_kinds = {(m, float(e)) for m in methods for e in sweep.get("visqol_eps", [])}
    visqol = Visqol() if study["visqol_clips"] and visqol_kinds else None
    quality = {}  # column -> values, in the order of each row's keys
    with open_shard(clips, "audio", "label", "track_id", "visqol") as h5:
        originals, labels, scored = h5["audio"][...], h5["label"][...].astype(np.int64), h5["visqol"][...]
        tracks, fold, study_part = read_strings(h5["track_id"]), int(h5.attrs["fold"]), int(h5.attrs["part"])
    per_clip = len(tile(originals[0], window)) if len(originals) else 1
    clip_batch = max(1, attack_params["batch_size"] // per_clip)
    in_memory = study["keep_audio"] == "listening"
    if in_memory and (targets is None or scores_out is None):
        raise ValueError("study.keep_audio: listening scores the clips here: pass targets and scores_out")
    kept = np.ones(len(originals), bool)
    if in_memory:  # the listening page's clips only: the first of the first fold's first part
        kept &= (np.arange(len(originals)) < study["listening_clips"]) & (fold == 1) & (study_part == 1)
    with contextlib.ExitStack() as stack:
        shard = stack.enter_context(write_shard(audio_out, source=source, fold=fold, sample_rate=sample_rate,
                                                models=",".join(src.models)))
        scorer = scores = None
        if in_memory:
            scorer = Scorer(clips, targets, params["segment"])
            scores = stack.enter_context(write_shard(scores_out, source=source, fold=fold, targets=list(targets)))
        shipper = Shipper(shard, quality, visqol, visqol_kinds, sample_rate, source, fold, scorer, scores)
        for start in progress(range(0, len(originals), clip_batch), f"study {source} fold {fold}"):
            part = slice(start, min(len(originals), start + clip_batch))
            shipper.batch(originals[part], tracks[part], labels[part], scored[part], kept[part])
            common = dict(track_ids=tracks[part], window=window, attack_params=attack_params, seed=seed,
                          truth=labels[part])
            for kind, draw, values in [(CLEAN, 0, [0.0])] + [(kind, draw, eps_values) for kind, draw in todo]:
                rebuilt = rebuilt_clips(src, originals[part], kind=kind, eps_values=values, draw=draw, **common)
                for eps, at_eps in zip(values, rebuilt, strict=True):
                    for path in paths_of(source, sweep):
                        shipped = shipper.ship(path, kind, eps, draw, at_eps[path])
                        if kind in methods:  # the attack's spectrum-matched null, from what it ships
                            clean = shipper.clean[path]
                            null = spectrum_matched(shipped - clean, spectrogram,
                                                    null_seeds(seed, tracks[part], kind, eps, path))
                            shipper.ship(path, control_kind(kind, "null"), eps, 0, clean + null)
    write_csv(quality_out, quality)
    log.info("study %s fold %d: %d clips x %d conditions x %d eps x %d paths", source, fold, len(originals),
             len(todo), len(eps_values), len(paths_of(source, sweep)))
