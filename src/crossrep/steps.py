"""One function per pipeline step: read inputs, call the library, write outputs atomically.

The Snakemake scripts in ``workflow/scripts`` only unpack ``snakemake.*`` and call these,
so every step can also be run and tested from Python.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from . import audio, dataset, metrics, models, runtime, synthetic
from . import listening as page
from . import train as training
from .attacks import AttackConfig, attack, attack_labels
from .data import ShardRows, input_dataset
from .features import Spectrogram, SpectrogramConfig
from .shards import ShardError, atomic_path, batches, open_shard, read_strings, write_shard

log = logging.getLogger("crossrep")


def _progress(desc):
    return lambda items: tqdm(items, desc=desc, leave=False, mininterval=2.0)


def synthesize(root, ds: dict, sample_rate: int, seed: int) -> None:
    """Generate the embedded synthetic dataset into ``root/<genre>/``."""
    paths = synthetic.generate_dataset(root, ds["genres"], ds["synthetic"]["tracks_per_genre"],
                                       ds["clip_seconds"], sample_rate, seed, _progress("synthesize"))
    log.info("wrote %d synthetic clips under %s", len(paths), root)


def manifest(root, out, ds: dict, sample_rate: int, segment: dict, seed: int) -> None:
    table = dataset.build_manifest(
        root, ds["genres"], ds["folds"], ds["clip_seconds"], ds["pad_tolerance_seconds"], sample_rate,
        segment["window"], segment["silence_threshold"], seed, _progress("manifest"))
    with atomic_path(out) as tmp:
        table.to_csv(tmp, index=False)
    used = table[table["status"] != "skipped"]
    log.info("manifest: %d clips from %d recordings used, %d files skipped; clips per fold %s",
             len(used), used["source"].nunique(), (table["status"] == "skipped").sum(),
             used.groupby("fold").size().to_dict())
    for row in table[table["status"] == "skipped"].itertuples():
        log.warning("skipped %s: %s", row.source, row.reason)


def segments(manifest_path, root, out, fold: int, genres, sample_rate: int, clip_seconds: float,
             segment: dict) -> None:
    """Fold ``fold``'s 5 s segments (75 % overlap); silent segments dropped and counted."""
    table = dataset.read_manifest(manifest_path)
    rows = table[(table["fold"] == fold) & (table["status"] != "skipped")]
    window, overlap = segment["window"], segment["overlap"]
    clip = int(round(clip_seconds * sample_rate))
    dropped = 0
    attrs = dict(fold=fold, genres=json.dumps(list(genres)), sample_rate=sample_rate, window=window,
                 hop=int(window * (1 - overlap)), tracks=len(rows))
    with write_shard(out, **attrs) as shard:
        for row, samples in tqdm(dataset.clip_audio(root, rows, sample_rate, clip), total=len(rows),
                                 desc=f"segments fold {fold}", leave=False, mininterval=2.0):
            segs = audio.segments(samples, window, overlap)
            keep = audio.power(segs) > segment["silence_threshold"]
            dropped += int((~keep).sum())
            index = np.flatnonzero(keep)
            shard.append(audio=segs[keep], track_id=[row.track_id] * len(index),
                         segment=index.astype(np.int32), label=np.full(len(index), row.label, np.int16))
        shard.h5.attrs["dropped_silent"] = dropped
    log.info("fold %d: %d segments from %d clips, %d silent segments dropped", fold, shard.rows,
             len(rows), dropped)


def spectrograms(segments_path, out, representation: str, config: SpectrogramConfig, batch_size: int) -> None:
    """dB spectrogram shard of one fold and representation, computed in batches."""
    transform = Spectrogram(config)
    with open_shard(segments_path, "audio", "track_id", "segment", "label") as src:
        n, window = src["audio"].shape
        attrs = dict(src.attrs, representation=representation,
                     config=json.dumps(config.__dict__), frames=config.n_frames(window))
        attrs.pop("complete", None), attrs.pop("rows", None)
        with write_shard(out, **attrs) as shard:
            for part in tqdm(list(batches(n, batch_size)), desc=f"{representation} fold {attrs['fold']}",
                             leave=False, mininterval=2.0):
                shard.append(spec=transform.db(representation, src["audio"][part]),
                             track_id=list(read_strings(src["track_id"], part)),
                             segment=src["segment"][part], label=src["label"][part])
    log.info("%s: %d %s spectrograms of %dx%d", out, n, representation,
             config.n_bins(representation), config.n_frames(window))


def train(kind: str, train_paths, checkpoint, history, fold: int, genres, model_params: dict,
          train_params: dict, seed: int, sample_rate: int, inputs: dict) -> None:
    """``inputs``: the segment and spectrogram params the model's input was made with."""
    summary = training.train_fold(kind, train_paths, checkpoint, history, fold, genres, model_params, train_params,
                                  seed, sample_rate, runtime.device(train_params["device"]), extra_params=inputs)
    log.info("%s fold %d: %s", kind, fold, summary)


def predict(checkpoint, source, out, batch_size: int = 50) -> None:
    """Segment probabilities of a checkpoint on a shard's rows (spectrograms or audio)."""
    device = runtime.device("auto")
    model, ckpt = models.load_checkpoint(checkpoint, device)
    with ShardRows([source], input_dataset(ckpt["kind"])) as rows:
        loss, accuracy, probs = training.evaluate(model, rows, np.arange(len(rows)), batch_size, device)
        with write_shard(out, model=ckpt["kind"], source=str(source), classes=json.dumps(ckpt["classes"]),
                         fold=rows.files[0].attrs.get("fold", 0)) as shard:
            shard.append(probs=probs.astype(np.float32), label=rows.labels.astype(np.int16),
                         track_id=list(rows.track_ids), segment=rows.segments)
    log.info("%s on %s: segment accuracy %.3f, loss %.3f", checkpoint, source, accuracy, loss)


def _align(a: h5py.File, b: h5py.File, names=("track_id", "segment")) -> None:
    """Two shards must list the same segments in the same order (they are zipped row by row)."""
    for name in names:
        if not np.array_equal(a[name][...], b[name][...]):
            raise ShardError(f"{a.filename} and {b.filename} list different segments ({name}); rebuild them")


def adversarial(checkpoint, spectrograms_path, out, method: str, attack_params: dict, seed: int) -> None:
    """Attack every spectrogram of a test fold against that fold's 2D CNN; store x_adv and predictions."""
    device = runtime.device("auto")
    cfg = AttackConfig.from_params(method, attack_params)
    model, ckpt = models.load_checkpoint(checkpoint, device)
    generator = torch.Generator(device=device).manual_seed(seed)
    with open_shard(spectrograms_path, "spec", "label", "track_id", "segment") as src:
        n = src["spec"].shape[0]
        attrs = dict(method=method, eps=cfg.eps, step=cfg.step, iterations=cfg.iterations, targeted=cfg.targeted,
                     label_source=attack_params["label"], clip_to_range=cfg.clip_to_range, fold=src.attrs["fold"],
                     representation=src.attrs["representation"], config=src.attrs["config"],
                     classes=json.dumps(ckpt["classes"]))
        with write_shard(out, **attrs) as shard:
            for part in tqdm(list(batches(n, attack_params["batch_size"])), desc=f"{method} fold {attrs['fold']}",
                             leave=False, mininterval=2.0):
                clean = torch.from_numpy(src["spec"][part]).to(device)
                truth = torch.from_numpy(src["label"][part].astype(np.int64)).to(device)
                used = attack_labels(model, clean, truth, attack_params["label"], cfg.targeted, len(ckpt["classes"]))
                adv = attack(model, clean, used, cfg, generator)
                with torch.no_grad():
                    probs = torch.softmax(model(adv), 1)
                delta = (adv - clean).flatten(1)
                shard.append(spec=adv.cpu().numpy(), probs=probs.cpu().numpy(),
                             attack_label=used.cpu().numpy().astype(np.int16), label=src["label"][part],
                             track_id=list(read_strings(src["track_id"], part)), segment=src["segment"][part],
                             linf=delta.abs().amax(1).cpu().numpy(), l2=delta.norm(dim=1).cpu().numpy())
    log.info("%s eps=%g on %s: %d segments", method, cfg.eps, spectrograms_path, n)


def eps_sweep(checkpoint, spectrograms_path, out, method: str, attack_params: dict, sweep_eps: list,
              tracks_per_genre: int, seed: int) -> None:
    """Accuracy of the 2D CNN against eps for one attack, on a few whole tracks per genre:
    eps 0 (clean), the attack's own eps and every ``sweep_eps``."""
    device = runtime.device("auto")
    model, ckpt = models.load_checkpoint(checkpoint, device)
    with open_shard(spectrograms_path, "spec") as src:
        tracks, labels = read_strings(src["track_id"]), src["label"][...]
        chosen = [t for g in np.unique(labels) for t in sorted(set(tracks[labels == g]))[:tracks_per_genre]]
        rows = np.flatnonzero(np.isin(tracks, chosen))
        clean = torch.from_numpy(src["spec"][rows]).to(device)
        fold = int(src.attrs["fold"])
    truth = torch.from_numpy(labels[rows].astype(np.int64)).to(device)
    results = []
    for eps in sorted({0.0, attack_params[method]["eps"], *sweep_eps}):
        cfg = AttackConfig.from_params(method, attack_params, eps=eps)
        probs = []
        for part in batches(len(rows), attack_params["batch_size"]):
            used = attack_labels(model, clean[part], truth[part], attack_params["label"], cfg.targeted,
                                 len(ckpt["classes"]))
            adv = attack(model, clean[part], used, cfg, torch.Generator(device=device).manual_seed(seed))
            with torch.no_grad():
                probs.append(torch.softmax(model(adv), 1).cpu().numpy())
        acc = metrics.accuracies(np.concatenate(probs), labels[rows], tracks[rows])
        results.append(dict(method=method, eps=eps, fold=fold, segments_n=len(rows), **acc))
    with atomic_path(out) as tmp:
        pd.DataFrame(results).to_csv(tmp, index=False)
    log.info("eps sweep on %d segments of %s written to %s", len(rows), spectrograms_path, out)


def reconstruct(segments_path, spectrograms_path, out, representation: str, config: SpectrogramConfig,
                griffin_lim_iterations: int, batch_size: int, seed: int) -> None:
    """Waveforms rebuilt from (clean or adversarial) dB spectrograms of one fold.

    STFT: the spectrogram's magnitude with the ORIGINAL phase of the clean segment.
    Mel: NNLS to a linear magnitude, then Griffin-Lim seeded per batch.
    """
    transform = Spectrogram(config)
    with open_shard(segments_path, "audio") as seg, open_shard(spectrograms_path, "spec") as spec:
        _align(seg, spec)
        n, window = seg["audio"].shape
        attrs = dict(representation=representation, source=str(spectrograms_path), fold=seg.attrs["fold"],
                     griffin_lim_iterations=griffin_lim_iterations if representation == "mel" else 0)
        with write_shard(out, **attrs) as shard:
            for i, part in enumerate(tqdm(list(batches(n, batch_size)), desc=f"rebuild {representation}",
                                          leave=False, mininterval=2.0)):
                phase = transform.phase(seg["audio"][part]) if representation == "stft" else None
                audio_rebuilt = transform.invert(representation, spec["spec"][part], window, phase=phase,
                                                 griffin_lim_iterations=griffin_lim_iterations, seed=seed + i)
                shard.append(audio=audio_rebuilt.astype(np.float32), label=seg["label"][part],
                             track_id=list(read_strings(seg["track_id"], part)), segment=seg["segment"][part])
    log.info("rebuilt %d %s segments from %s", n, representation, spectrograms_path)


def snr(segments_path, clean_rebuild_path, rebuilt_path, out, batch_size: int = 32) -> None:
    """Per-segment SNRs of a rebuilt condition: true SNR against the clean rebuild (paper eq. 3),
    true SNR against the original audio, and the authors' level ratio against the clean rebuild."""
    columns = {k: [] for k in ("track_id", "segment", "label", "true_snr_db", "snr_vs_original_db",
                               "level_ratio_db")}
    with open_shard(segments_path, "audio") as seg, open_shard(clean_rebuild_path, "audio") as ref, \
            open_shard(rebuilt_path, "audio") as adv:
        _align(seg, ref)
        _align(seg, adv)
        for part in batches(seg["audio"].shape[0], batch_size):
            original, reference, other = seg["audio"][part], ref["audio"][part], adv["audio"][part]
            columns["track_id"] += list(read_strings(seg["track_id"], part))
            columns["segment"] += list(seg["segment"][part])
            columns["label"] += list(seg["label"][part])
            columns["true_snr_db"] += list(metrics.snr_db(reference, other))
            columns["snr_vs_original_db"] += list(metrics.snr_db(original, other))
            columns["level_ratio_db"] += list(metrics.level_ratio_db(reference, other))
    with atomic_path(out) as tmp:
        pd.DataFrame(columns).to_csv(tmp, index=False)


def listening(fold: int, segments_path, out_dir, out_json, sources: dict, per_genre: int, sample_rate: int) -> None:
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    page.write_samples(fold, segments_path, out_dir, out_json, sources, per_genre, sample_rate)


def report(results: dict, metrics_path, page_path, figures_dir, plots_dir, dataset_kind: str) -> None:
    """metrics.json, Tables III-VII, figures, DVC plot data and the listening page from every
    per-fold result."""
    from . import reports  # matplotlib: imported by the report step only

    out_dir, figures_dir = Path(metrics_path).parent, Path(figures_dir)
    table = dataset.read_manifest(results["manifest"])
    data = dict(tracks=int((table.status != "skipped").sum()), skipped_files=int((table.status == "skipped").sum()),
                padded_clips=int((table.status == "padded").sum()), segments=0, dropped_silent_segments=0)
    for path in results["segments"].values():
        with open_shard(path, "audio") as h5:
            data["segments"] += int(h5["audio"].shape[0])
            data["dropped_silent_segments"] += int(h5.attrs["dropped_silent"])
    results = dict(results, data=data)
    reports.build(results, out_dir)
    with open_shard(next(iter(results["segments"].values())), "audio") as h5:
        classes = json.loads(h5.attrs["genres"])
    figures = [figures_dir / "training_curves.png"]
    reports.training_curves(results["history"], figures[0])
    for rep, by_attack in results["adversarial"].items():
        for method, by_fold in by_attack.items():
            fold = min(by_fold)
            figures.append(figures_dir / f"fig4_{rep}_{method}.png")
            reports.figure4(results["spectrograms"][rep][fold], by_fold[fold], figures[-1],
                            f"{rep.upper()} {method.upper()} (fold {fold})")
    figures.append(figures_dir / "accuracy_vs_eps.png")
    reports.eps_curve(results["eps_sweep"], figures[-1])
    figures.append(figures_dir / "snr_distributions.png")
    reports.snr_histograms(results["snr"], figures[-1])
    reports.plot_data(results, Path(plots_dir))
    for model, by_fold in results["clean"].items():
        for fold, path in by_fold.items():
            reports.confusion(path, classes, figures_dir / "confusion" / f"{model}_fold{fold}.png",
                              f"{model}, test fold {fold} (segments)")
    tables = {title: out_dir / "tables" / f"table{n}.csv" for n, title in (
        (3, "Table III: 2D CNN, clean spectrograms"), (4, "Table IV: 1D CNN, original and STFT-rebuilt audio"),
        (5, "Table V: 2D CNN, adversarial spectrograms"), (6, "Table VI: 1D CNN, rebuilt adversarial audio"),
        (7, "Table VII: SNR of rebuilt audio (dB)"))}
    prefix = {fold: f"audio/fold{fold}" for fold in results["listening"]}
    page.render_page(page_path, tables, figures, list(results["listening"].values()), prefix,
                     f"{dataset_kind}, {data['tracks']} clips, {data['segments']} segments")
    log.info("report written: %s, %s", metrics_path, page_path)
