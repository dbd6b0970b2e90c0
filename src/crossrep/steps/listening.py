"""Rule ``listening``: a few clips per genre of one fold as 16-bit WAVs, with their scores."""
from __future__ import annotations

from pathlib import Path

from .. import listening


def run(*, fold: int, segments, out_dir, out_json, sources: dict, params: dict) -> None:
    """``sources``: per version of a sample, the shards behind it (see report.smk).
    """
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    listening.write_samples(fold, segments, out_dir, out_json, sources, params)
