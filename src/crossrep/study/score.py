"""Every target model on rebuilt whole clips, re-segmented exactly as clean clips are.

A clip is cut by the pipeline's sliding window (``segment.window``, ``segment.overlap``);
segments the clean clip drops as silent are dropped from every rebuilt version of it too,
so each (clip, segment) is scored under every perturbation, eps and path.
"""
from __future__ import annotations

import numpy as np
import torch

from .. import audio
from ..features import model_input


def clip_segments(clip: np.ndarray, keep: np.ndarray, window: int, overlap: float) -> np.ndarray:
    """(n_kept, window) segments of one clip; ``keep``: the clean clip's non-silent mask."""
    return audio.segments(np.asarray(clip, dtype=np.float32), window, overlap)[keep]


def non_silent(clip: np.ndarray, window: int, overlap: float, threshold: float) -> np.ndarray:
    """The mask the segments rule applies: mean power above ``segment.silence_threshold``."""
    return audio.power(audio.segments(clip, window, overlap)) > threshold


def probabilities(targets: dict, segments: np.ndarray, batch_size: int = 50) -> dict[str, np.ndarray]:
    """{target: softmax (n, classes)} for (n, window) audio; ``targets``: {name: (model, checkpoint)}."""
    out = {}
    for name, (model, checkpoint) in targets.items():
        parts = []
        for start in range(0, len(segments), batch_size):
            x = model_input(checkpoint, segments[start:start + batch_size])
            with torch.no_grad():
                parts.append(torch.softmax(model(x), 1).numpy())
        out[name] = np.concatenate(parts) if parts else np.zeros((0, len(checkpoint["classes"])), np.float32)
    return out
