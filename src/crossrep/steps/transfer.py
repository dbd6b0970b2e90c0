"""Rule ``transfer``: waveforms rebuilt from (clean or adversarial) dB spectrograms, the 1D
CNN's predictions on them, and their SNRs. The rebuilt audio lives only in memory: at
GTZAN's size it would be the largest thing a run stores (six rebuilds of every overlapping
segment), and nothing but these scores and the listening page's few samples (which
``listening`` rebuilds itself, row by row, identically) reads it."""
from __future__ import annotations

import json

import numpy as np
import torch

from .. import metrics, models, runtime
from ..features import Spectrogram, SpectrogramConfig
from ..reconstruction import rebuild
from ..runtime import log, progress
from ..shards import (
    assert_aligned,
    batches,
    open_shard,
    read_spectrograms,
    read_strings,
    row_keys,
    write_csv,
    write_shard,
)


def run(*, checkpoint, segments, clean, source, representation: str, predictions_out, snr_out,
        params: dict) -> None:
    """Rebuild every row of the spectrogram shard ``source`` (and, as the SNRs' reference, of
    the clean spectrograms ``clean``; the same shard for the clean condition), classify it
    with the 1D CNN ``checkpoint`` into ``predictions_out``, and write its per-segment SNRs
    (``metrics.rebuild_snrs``) to ``snr_out``."""
    transform = Spectrogram(SpectrogramConfig.from_params(params["spectrogram"], params["audio"]["sample_rate"]))
    device = runtime.device("auto")
    model, ckpt = models.load_checkpoint(checkpoint, device)
    snr = {k: [] for k in ("track_id", "segment", "label", *metrics.REBUILD_SNRS)}
    correct = 0
    with open_shard(segments, "audio", "label", "track_id", "segment") as seg, \
            open_shard(clean, "spec") as clean_spec, open_shard(source) as spec:
        assert_aligned(seg, clean_spec)
        assert_aligned(seg, spec)
        is_clean = clean_spec.filename == spec.filename
        with write_shard(predictions_out, model=ckpt["kind"], source=str(source), classes=json.dumps(ckpt["classes"]),
                         fold=seg.attrs["fold"]) as shard:
            for part in progress(list(batches(seg["audio"].shape[0], params["reconstruction"]["batch_size"])),
                                 f"rebuild and score {representation}"):
                original, labels = seg["audio"][part], seg["label"][part]
                tracks, segments_ = list(read_strings(seg["track_id"], part)), seg["segment"][part]
                keys = row_keys(tracks, segments_)
                reference = rebuild(transform, representation, clean_spec["spec"][part], original, keys, params)
                rebuilt = reference if is_clean else rebuild(
                    transform, representation, read_spectrograms(spec, part, clean_spec), original, keys, params)
                with torch.no_grad():
                    probs = torch.softmax(model(torch.from_numpy(rebuilt).to(device)), 1).cpu().numpy()
                shard.append(probs=probs.astype(np.float32), label=labels.astype(np.int16), track_id=tracks,
                             segment=segments_)
                correct += int((probs.argmax(1) == labels).sum())
                snr["track_id"] += tracks
                snr["segment"] += list(segments_)
                snr["label"] += list(labels)
                for name, values in metrics.rebuild_snrs(original, reference, rebuilt).items():
                    snr[name] += list(values)
    write_csv(snr_out, snr)
    log.info("1D CNN on %d rebuilt %s segments of %s: segment accuracy %.3f", len(snr["label"]), representation,
             source, correct / max(len(snr["label"]), 1))
