"""The models' layer arithmetic without torch: output sizes of the paper's Table I (2D CNN)
and Table II (1D CNN) stacks. ``crossrep.params`` checks a configuration with it when
Snakemake parses the workflow (every invocation, every cluster job), so it must stay light.
"""
from __future__ import annotations

CNN1D_KERNELS = (256, 64, 32, 16)  # Table II, each with stride 2
CNN1D_POOLS = (8, 8)
TABLE_I_POOLS = ((2, 2), (2, 2))  # (size, stride) of the two max-pools as Table I's text gives them
AUTHORS_POOLS = ((2, 2), (4, 2))  # the authors' Keras code; gives the paper's own 60x103 STFT rows


def cnn2d_output_shape(bins: int, frames: int, pools=TABLE_I_POOLS) -> tuple[int, int]:
    """Spatial size after conv/conv/pool/conv/conv/pool (unpadded 3x3 convolutions,
    square max-pools of (size, stride), floor division as in torch and Keras)."""
    def after(n):
        for size, stride in pools:
            n = (n - 4 - size) // stride + 1
        return n
    return after(bins), after(frames)


def cnn1d_output_length(samples: int, taps: int) -> int:
    n = (samples - taps + 1) // CNN1D_POOLS[0]
    n = (n - CNN1D_KERNELS[0]) // 2 + 1
    n = n // CNN1D_POOLS[1]
    for kernel in CNN1D_KERNELS[1:]:
        n = (n - kernel) // 2 + 1
    return n // 2
