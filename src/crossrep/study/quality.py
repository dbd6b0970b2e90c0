"""How loud and how audible a rebuilt clip's perturbation is.

Against the clean rebuild of the same path (eps 0): true SNR, the authors' level ratio,
log-spectral distance and ViSQOL v3 (audio mode, ``visqol-python``: both signals resampled
to its 48 kHz; its ceiling in that mode is 4.73, not 5). Against the original clip: true SNR.
"""
from __future__ import annotations

import numpy as np

from .. import metrics

VISQOL_RATE = 48000
VISQOL_CEILING = 4.73  # audio mode's MOS-LQO for identical signals


def clip_quality(clean_rebuild: np.ndarray, rebuilt: np.ndarray, original: np.ndarray) -> dict[str, np.ndarray]:
    """Per clip (rows of the arrays): the SNR-like figures of ``rebuilt``."""
    return dict(true_snr_db=metrics.snr_db(clean_rebuild, rebuilt),
                snr_vs_original_db=metrics.snr_db(original, rebuilt),
                level_ratio_db=metrics.level_ratio_db(clean_rebuild, rebuilt),
                lsd_db=metrics.log_spectral_distance_db(clean_rebuild, rebuilt))


class Visqol:
    """ViSQOL v3 audio mode, created once per process (it loads its SVR model)."""

    def __init__(self):
        from visqol import VisqolApi

        self.api = VisqolApi()
        self.api.create(mode="audio")

    def mos(self, reference: np.ndarray, degraded: np.ndarray, sample_rate: int) -> float:
        """MOS-LQO of ``degraded`` against ``reference`` (1-D, any rate; resampled to 48 kHz)."""
        import soxr

        def up(x):
            x = np.asarray(x, dtype=np.float64)
            return x if sample_rate == VISQOL_RATE else soxr.resample(x, sample_rate, VISQOL_RATE)
        return float(self.api.measure_from_arrays(up(reference), up(degraded), VISQOL_RATE).moslqo)
