"""Rule ``synthesize``: the embedded synthetic genre dataset."""
from __future__ import annotations

from .. import synthetic
from ..runtime import log, progress


def run(*, root, params: dict) -> None:
    """Write ``root/<genre>/<genre>.000NN.wav``.
    """
    ds = params["dataset"]
    paths = synthetic.generate_dataset(root, ds["genres"], ds["synthetic"]["tracks_per_genre"], ds["clip_seconds"],
                                       params["audio"]["sample_rate"], params["seed"],
                                       lambda items: progress(items, "synthesize"))
    log.info("wrote %d synthetic clips under %s", len(paths), root)
