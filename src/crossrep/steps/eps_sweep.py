"""Rule ``eps_sweep``: the 2D CNN's accuracy against the attack budget, for one attack."""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from .. import metrics, models, runtime
from ..attacks import AttackConfig, attack_batch
from ..runtime import log
from ..shard_rows import ShardRows
from ..shards import atomic_path, batches, row_keys


def run(*, checkpoint, spectrograms, out, method: str, params: dict) -> None:
    """Accuracy of ``checkpoint`` under ``method`` at eps 0 (clean), the attack's own eps and
    every ``attack.eps_sweep``, on the segments of a few whole test tracks per genre (the
    first by name, over all of the fold's parts ``spectrograms``); CSV ``out``.
    """
    device = runtime.device("auto")
    attack_params = params["attack"]
    model, ckpt = models.load_checkpoint(checkpoint, device)
    with ShardRows(spectrograms, "spec") as src:
        tracks, labels = src.track_ids, src.labels
        per_genre = attack_params["sweep_tracks_per_genre"]
        chosen = [t for g in np.unique(labels) for t in sorted(set(tracks[labels == g]))[:per_genre]]
        rows = np.flatnonzero(np.isin(tracks, chosen))
        clean = torch.from_numpy(src.read(rows)).to(device)
        keys = row_keys(tracks[rows], src.segments[rows])
        fold = int(src.files[0].attrs["fold"])
    truth = torch.from_numpy(labels[rows].astype(np.int64)).to(device)
    results = []
    for eps in sorted({0.0, attack_params[method]["eps"], *attack_params["eps_sweep"]}):
        cfg = AttackConfig.from_params(method, attack_params, eps=eps)
        probs = []
        for part in batches(len(rows), attack_params["batch_size"]):
            *_, adv_probs = attack_batch(model, clean[part], cfg, keys=keys[part], seed=params["seed"],
                                           n_classes=len(ckpt["classes"]), label_source=attack_params["label"],
                                           truth=truth[part])
            probs.append(adv_probs.cpu().numpy())
        acc = metrics.accuracies(np.concatenate(probs), labels[rows], tracks[rows])
        results.append(dict(method=method, eps=eps, fold=fold, segments_n=len(rows), **acc))
    with atomic_path(out) as tmp:
        pd.DataFrame(results).to_csv(tmp, index=False)
    log.info("eps sweep on %d segments of %s written to %s", len(rows), spectrograms, out)
