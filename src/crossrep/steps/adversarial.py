"""Rule ``adversarial``: one attack on every spectrogram of a test fold."""
from __future__ import annotations

import json

import numpy as np
import torch

from .. import models, runtime
from ..attacks import AttackConfig, attack_batch
from ..runtime import log, progress
from ..shards import batches, open_shard, read_strings, row_keys, write_shard


def run(*, checkpoint, spectrograms, out, method: str, params: dict) -> None:
    """Attack every row of ``spectrograms`` against the fold's 2D CNN ``checkpoint`` with
    ``method`` (fgsm | bim | pgd); store the perturbation x_adv - clean (float16, compressed:
    ``shards.read_spectrograms`` adds it back), the model's softmax on x_adv, L-inf and L2.
    """
    device = runtime.device("auto")
    attack_params = params["attack"]
    cfg = AttackConfig.from_params(method, attack_params)
    model, ckpt = models.load_checkpoint(checkpoint, device)
    with open_shard(spectrograms, "spec", "label", "track_id", "segment") as src:
        n = src["spec"].shape[0]
        attrs = dict(method=method, eps=cfg.eps, step=cfg.step, iterations=cfg.iterations, targeted=cfg.targeted,
                     label_source=attack_params["label"], clip_to_range=cfg.clip_to_range, fold=src.attrs["fold"],
                     representation=src.attrs["representation"], config=src.attrs["config"],
                     classes=json.dumps(ckpt["classes"]))
        with write_shard(out, **attrs) as shard:
            for part in progress(list(batches(n, attack_params["batch_size"])), f"{method} fold {attrs['fold']}"):
                clean = torch.from_numpy(src["spec"][part]).to(device)
                truth = torch.from_numpy(src["label"][part].astype(np.int64)).to(device)
                tracks, segments = list(read_strings(src["track_id"], part)), src["segment"][part]
                _, perturbation, used, probs = attack_batch(model, clean, cfg, keys=row_keys(tracks, segments),
                                                            seed=params["seed"], n_classes=len(ckpt["classes"]),
                                                            label_source=attack_params["label"], truth=truth)
                delta = perturbation.float().flatten(1)
                shard.append(perturbation=perturbation.cpu().numpy(), probs=probs.cpu().numpy(),
                             attack_label=used.cpu().numpy().astype(np.int16), label=src["label"][part],
                             track_id=tracks, segment=segments,
                             linf=delta.abs().amax(1).cpu().numpy(), l2=delta.norm(dim=1).cpu().numpy())
    log.info("%s eps=%g on %s: %d segments", method, cfg.eps, spectrograms, n)
