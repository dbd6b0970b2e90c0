"""Rule ``train``: one model for one test fold, trained on the other folds."""
from __future__ import annotations

from .. import FAMILY, representation_of, runtime
from .. import train as training
from ..runtime import log


def run(*, kind: str, train_shards, checkpoint, history, fold: int, params: dict) -> None:
    """Train ``kind`` (a ``crossrep.FAMILY`` kind) on ``train_shards``; write the checkpoint
    and its history CSV.
    """
    family = FAMILY[kind]
    train_params = {k: v for k, v in params["train"].items() if k != "threads"}
    inputs = {"segment": params["segment"], "spectrogram": params["spectrogram"] if representation_of(kind) else None,
              "dataset_kind": params["dataset"]["kind"],  # what it was trained on, for its users
              "cpu_kernels": runtime.cpu_kernels()}  # the instruction set its training ran on
    summary = training.train_fold(kind, train_shards, checkpoint, history, fold, params["dataset"]["genres"],
                                  {family: params["model"][family]}, train_params, params["seed"],
                                  params["audio"]["sample_rate"], runtime.device(train_params["device"]),
                                  extra_params=inputs)
    log.info("%s fold %d: %s", kind, fold, summary)
