"""Rule ``predict_clean`` (and the 1D CNN's half of ``transfer``): segment probabilities."""
from __future__ import annotations

import json

import numpy as np

from .. import models, runtime
from ..runtime import log
from ..shard_rows import ShardRows, input_dataset
from ..shards import write_shard
from ..train import evaluate


def run(*, checkpoint, source, out, batch_size: int = 50) -> None:
    """Softmax of ``checkpoint`` on every row of ``source`` (spectrograms or audio) into ``out``."""
    device = runtime.device("auto")
    model, ckpt = models.load_checkpoint(checkpoint, device)
    with ShardRows([source], input_dataset(ckpt["kind"])) as rows:
        loss, accuracy, probs = evaluate(model, rows, np.arange(len(rows)), batch_size, device)
        with write_shard(out, model=ckpt["kind"], source=str(source), classes=json.dumps(ckpt["classes"]),
                         fold=rows.files[0].attrs.get("fold", 0)) as shard:
            shard.append(probs=probs.astype(np.float32), label=rows.labels.astype(np.int16),
                         track_id=list(rows.track_ids), segment=rows.segments)
    log.info("%s on %s: segment accuracy %.3f, loss %.3f", checkpoint, source, accuracy, loss)
