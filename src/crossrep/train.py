"""Per-fold training: track-level validation split, early stopping, epoch-level resume.

Determinism: every epoch draws its shuffle and dropout masks from (seed, fold, epoch),
so a run resumed from its last epoch checkpoint gives the same model as an
uninterrupted one, and two runs with the same seed give identical weights on CPU.
"""
from __future__ import annotations

import json
import logging
import time
import zlib
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from . import FAMILY, models, representation_of
from .shard_rows import ShardRows, input_dataset, streaming_stats
from .shards import atomic_path

log = logging.getLogger("crossrep")
HISTORY_COLUMNS = ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "seconds"]


def validation_split(track_ids, labels, fraction: float, seed: int) -> np.ndarray:
    """Boolean mask of rows held out for validation: ``fraction`` of the TRACKS of each genre.

    Splitting by track keeps the overlapping segments of one track on one side.
    """
    track_ids = np.asarray(track_ids)
    labels = np.asarray(labels)
    held = set()
    rng = np.random.default_rng([seed, 7919])
    for label in np.unique(labels):
        tracks = np.array(sorted(set(track_ids[labels == label])))
        n = int(round(fraction * len(tracks)))
        n = min(max(n, 1), len(tracks) - 1) if len(tracks) > 1 else 0
        held.update(rng.choice(tracks, size=n, replace=False).tolist())
    return np.isin(track_ids, list(held))


def _epoch_seed(seed: int, fold: int, epoch: int) -> int:
    return zlib.crc32(f"{seed}/{fold}/{epoch}".encode())


def evaluate(model, rows: ShardRows, indices, batch_size: int, device) -> tuple[float, float, np.ndarray]:
    """(mean loss, accuracy, softmax probabilities) of ``model`` on ``indices``."""
    model.eval()
    losses, probs = [], []
    with torch.no_grad():
        for chunk, x in rows.batches(indices, batch_size):
            logits = model(torch.from_numpy(x).to(device))
            y = torch.from_numpy(rows.labels[chunk]).to(device)
            losses.append(nn.functional.cross_entropy(logits, y, reduction="sum").item())
            probs.append(torch.softmax(logits, 1).cpu().numpy())
    probs = np.concatenate(probs) if probs else np.zeros((0, 0), np.float32)
    n = max(len(indices), 1)
    return sum(losses) / n, float((probs.argmax(1) == rows.labels[indices]).mean()) if len(indices) else 0.0, probs


def adam(model: nn.Module, learning_rate: float, weight_decay: float = 0.0) -> torch.optim.Adam:
    """Adam over the model's trainable weights, as one fused pass per weight tensor.

    On a CPU torch's default Adam runs a loop of ~8 elementwise ops over every weight and
    its two moments; the fused kernel reads and writes each once. For the paper-width STFT
    CNN's 416 M weights that is 4.1 s -> 0.31 s per step on one thread (`bench/train.py`). The
    update is the same formula; its float rounding differs from the loop's in the last bit.
    """
    return torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=learning_rate,
                            weight_decay=weight_decay, fused=True)


def train_fold(kind: str, train_paths, checkpoint_path, history_path, fold: int, classes, model_params: dict,
               train_params: dict, seed: int, sample_rate: int, device: torch.device, extra_params=None) -> dict:
    """Train ``kind`` on ``train_paths`` shards; write the checkpoint and the history CSV."""
    checkpoint_path, history_path = Path(checkpoint_path), Path(history_path)
    resume_path = checkpoint_path.with_suffix(".resume.pt")
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.manual_seed(seed)
    with ShardRows(train_paths, input_dataset(kind)) as rows:
        held_out = validation_split(rows.track_ids, rows.labels, train_params["validation_fraction"], seed)
        train_idx, val_idx = np.flatnonzero(~held_out), np.flatnonzero(held_out)
        shape = rows.row_shape
        spectrogram = representation_of(kind) is not None
        arch = models.architecture(kind, model_params, len(classes), sample_rate,
                                   window=shape[-1], n_bins=shape[0] if spectrogram else None,
                                   n_frames=shape[-1] if spectrogram else None)
        model = models.build(kind, arch).to(device)
        mean, std = streaming_stats(rows, train_idx, train_params["batch_size"], per_bin=spectrogram)
        model.norm.set(mean, std)
        learning_rate = train_params["learning_rate"][FAMILY[kind]]
        optimiser = adam(model, learning_rate, train_params["weight_decay"])
        params_record = dict(kind=kind, fold=fold, seed=seed, model=model_params, train=train_params,
                             sample_rate=sample_rate, **(extra_params or {}))
        fingerprint = json.dumps(params_record, sort_keys=True)
        state = dict(epoch=0, history=[], best=None, best_loss=float("inf"), since_best=0)
        if resume_path.exists():
            state = _resume(resume_path, fingerprint, model, optimiser, state)
        log.info("%s fold %d: %d training / %d validation segments (%d / %d tracks), %s parameters, %s",
                 kind, fold, len(train_idx), len(val_idx), len(set(rows.track_ids[train_idx])),
                 len(set(rows.track_ids[val_idx])), f"{sum(p.numel() for p in model.parameters()):,}", device)
        while state["epoch"] < train_params["epochs"] and state["since_best"] < train_params["patience"]:
            epoch = state["epoch"] + 1
            record = _train_epoch(model, optimiser, rows, train_idx, val_idx, train_params, seed, fold, epoch, device)
            state["history"].append(record)
            if record["val_loss"] < state["best_loss"]:
                state.update(best_loss=record["val_loss"], since_best=0,
                             best={k: v.detach().clone() for k, v in model.state_dict().items()})
            else:
                state["since_best"] += 1
            state["epoch"] = epoch
            log.info("epoch %d: loss %.4f acc %.3f | val loss %.4f acc %.3f | %.1f s", epoch, record["loss"],
                     record["accuracy"], record["val_loss"], record["val_accuracy"], record["seconds"])
            _save_resume(resume_path, fingerprint, model, optimiser, state)
    import pandas as pd  # here: the jobs that only evaluate (predict_clean) never import it

    model.load_state_dict(state["best"])
    history = pd.DataFrame(state["history"], columns=HISTORY_COLUMNS)
    best = history.loc[history["val_loss"].idxmin()]
    summary = dict(epochs=int(len(history)), best_epoch=int(best["epoch"]), best_val_loss=float(best["val_loss"]),
                   best_val_accuracy=float(best["val_accuracy"]), seconds=float(history["seconds"].sum()),
                   stopped_early=bool(len(history) < train_params["epochs"]))
    with atomic_path(history_path) as tmp:
        history.to_csv(tmp, index=False)
    models.save_checkpoint(checkpoint_path, model, kind, arch, classes, params_record, summary)
    resume_path.unlink(missing_ok=True)
    return summary


def _train_epoch(model, optimiser, rows, train_idx, val_idx, train_params, seed, fold, epoch, device) -> dict:
    started = time.perf_counter()
    epoch_seed = _epoch_seed(seed, fold, epoch)
    torch.manual_seed(epoch_seed)
    order = np.random.default_rng(epoch_seed).permutation(train_idx)
    model.train()
    # BatchNorm statistics for evaluation: the plain average over THIS epoch's batches.
    # An exponential average (momentum 0.1) lags by ~20 batches, i.e. by several epochs
    # on a small dataset, and early stopping then judges stale statistics.
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
            module.momentum = None
    loss_sum = correct = 0
    bar = tqdm(rows.batches(order, train_params["batch_size"]), total=-(-len(order) // train_params["batch_size"]),
               desc=f"epoch {epoch}", leave=False, mininterval=2.0)
    for chunk, x in bar:
        y = torch.from_numpy(rows.labels[chunk]).to(device)
        logits = model(torch.from_numpy(x).to(device))
        loss = nn.functional.cross_entropy(logits, y)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        loss_sum += loss.item() * len(chunk)
        correct += (logits.argmax(1) == y).sum().item()
    val_loss, val_acc, _ = evaluate(model, rows, val_idx, train_params["batch_size"], device)
    return dict(epoch=epoch, loss=loss_sum / len(order), accuracy=correct / len(order), val_loss=val_loss,
                val_accuracy=val_acc, seconds=time.perf_counter() - started)


def _save_resume(path, fingerprint, model, optimiser, state):
    payload = dict(fingerprint=fingerprint, model=model.state_dict(), optimiser=optimiser.state_dict(),
                   epoch=state["epoch"], history=state["history"], best=state["best"],
                   best_loss=state["best_loss"], since_best=state["since_best"])
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def _resume(path, fingerprint, model, optimiser, state) -> dict:
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a resume file is a cache: a broken one only costs the epochs
        log.warning("ignoring unreadable resume state %s (%s)", path, exc)
        return state
    if saved.get("fingerprint") != fingerprint:
        log.info("resume state %s was made with other parameters; starting afresh", path)
        return state
    model.load_state_dict(saved["model"])
    optimiser.load_state_dict(saved["optimiser"])
    log.info("resuming from epoch %d (%s)", saved["epoch"], path)
    return dict(epoch=saved["epoch"], history=saved["history"], best=saved["best"],
                best_loss=saved["best_loss"], since_best=saved["since_best"])
