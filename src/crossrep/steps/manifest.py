"""Rule ``manifest``: every clip of a dataset folder, its fold, or why it was skipped."""
from __future__ import annotations

from .. import dataset
from ..runtime import log, progress
from ..shards import atomic_path


def run(*, root, out, params: dict) -> None:
    """Scan ``root/<genre>/`` and write the manifest CSV ``out``.
    """
    ds, seg = params["dataset"], params["segment"]
    table = dataset.build_manifest(
        root, ds["genres"], ds["folds"], ds["clip_seconds"], ds["pad_tolerance_seconds"],
        params["audio"]["sample_rate"], seg["window"], seg["silence_threshold"], params["seed"],
        lambda items: progress(items, "manifest"), ds["max_clips_per_recording"], seg["overlap"],
        params["shards"]["max_segments"])
    with atomic_path(out) as tmp:
        table.to_csv(tmp, index=False)
    used = table[table["status"] != "skipped"]
    log.info("manifest: %d clips from %d recordings used, %d files skipped; clips per fold %s, "
             "shard parts per fold %s", len(used), used["source"].nunique(), (table["status"] == "skipped").sum(),
             used.groupby("fold").size().to_dict(), used.groupby("fold")["part"].nunique().to_dict())
    for row in table[table["status"] == "skipped"].itertuples():
        log.warning("skipped %s: %s", row.source, row.reason)
