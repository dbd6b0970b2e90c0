"""Rule ``transfer``: the 1D CNN on rebuilt audio, and the SNRs of that audio."""
from __future__ import annotations

from .. import metrics
from ..shards import assert_aligned, batches, open_shard, read_strings, write_csv
from . import predict


def run(*, checkpoint, segments, clean_rebuild, rebuilt, predictions_out, snr_out) -> None:
    """1D CNN softmax on ``rebuilt`` into ``predictions_out``; per-segment SNRs into ``snr_out``."""
    predict.run(checkpoint=checkpoint, source=rebuilt, out=predictions_out)
    snr(segments=segments, clean_rebuild=clean_rebuild, rebuilt=rebuilt, out=snr_out)


def snr(*, segments, clean_rebuild, rebuilt, out, batch_size: int = 32) -> None:
    """Per-segment SNRs of a rebuilt condition: true SNR against the clean rebuild (paper eq. 3)
    and against the original audio; the authors' level ratio against the clean rebuild (their
    attack rows) and against the original audio (their Table VII "None" row)."""
    columns = {k: [] for k in ("track_id", "segment", "label", "true_snr_db", "snr_vs_original_db",
                               "level_ratio_db", "level_ratio_vs_original_db")}
    with open_shard(segments, "audio") as seg, open_shard(clean_rebuild, "audio") as ref, \
            open_shard(rebuilt, "audio") as adv:
        assert_aligned(seg, ref)
        assert_aligned(seg, adv)
        for part in batches(seg["audio"].shape[0], batch_size):
            original, reference, other = seg["audio"][part], ref["audio"][part], adv["audio"][part]
            columns["track_id"] += list(read_strings(seg["track_id"], part))
            columns["segment"] += list(seg["segment"][part])
            columns["label"] += list(seg["label"][part])
            columns["true_snr_db"] += list(metrics.snr_db(reference, other))
            columns["snr_vs_original_db"] += list(metrics.snr_db(original, other))
            columns["level_ratio_db"] += list(metrics.level_ratio_db(reference, other))
            columns["level_ratio_vs_original_db"] += list(metrics.level_ratio_db(original, other))
    write_csv(out, columns)
