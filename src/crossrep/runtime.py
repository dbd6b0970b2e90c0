"""Process set-up shared by the workflow scripts and the CLI: logging, threads, device.

torch is imported only by the steps that use it; this module does not import it for them.
"""
from __future__ import annotations

import ctypes
import logging
import sys
from pathlib import Path

from tqdm import tqdm

log = logging.getLogger("crossrep")


def setup(log_file=None, threads: int = 1) -> logging.Logger:
    """Log to stderr and to ``log_file``; pin torch's thread count if the step uses torch.

    Torch picks all cores by default; on small machines many small ops are far slower
    multi-threaded (measured: torch.stft ~50x on 2 threads), so every torch step sets it.
    An uncaught exception is written to the log file too (Snakemake points users there).
    """
    handlers = [logging.StreamHandler(sys.stderr)]
    if log_file:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, mode="w"))
    logging.basicConfig(level=logging.INFO, handlers=handlers, force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if log_file:
        sys.excepthook = _log_uncaught
    keep_freed_memory()
    torch = sys.modules.get("torch")  # imported by the step module, or not needed at all
    if torch is not None:
        torch.set_num_threads(max(1, int(threads)))
    return log


# glibc's mallopt parameters (malloc.h)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3


def keep_freed_memory() -> bool:
    """Let glibc keep freed memory for the next allocation instead of handing it back.

    By default glibc serves every block above 128 KiB (its dynamic rule stops at 32 MiB)
    with a fresh mmap and unmaps it on free, so every training step's and attack
    iteration's activations (87 MB for one layer of the STFT CNN at batch 50) are faulted
    in and zeroed by the kernel again. Measured on the STFT CNN's training step: 3.4 M
    page faults and a third of its CPU time in the kernel per 9 steps; with blocks up to
    2 GiB taken from the heap and the heap never trimmed below 2 GiB of free space, 0.1 M
    faults and a fifth of the kernel time, for ~45 % more peak memory (freed blocks are
    kept). The bound is the largest a C int allows (2 GiB): at paper widths one layer's
    activations for a batch of 50 reach 0.7 GB, and its weight gradient 1.7 GB. Results are
    bit-identical: only where memory comes from changes. A no-op (False) where the C
    library is not glibc (macOS, musl).
    """
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    largest = 2**31 - 1  # mallopt takes a C int
    return mallopt(M_MMAP_THRESHOLD, largest) == 1 and mallopt(M_TRIM_THRESHOLD, largest) == 1


def _log_uncaught(kind, value, traceback) -> None:
    logging.getLogger("crossrep").critical("step failed: %s: %s", kind.__name__, value,
                                           exc_info=(kind, value, traceback))
    logging.shutdown()


def device(choice: str = "auto"):
    """``auto`` takes CUDA when present, else CPU; ``cuda`` fails clearly without a GPU."""
    import torch

    if choice == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("train.device: cuda requested but no CUDA device is visible; use auto or cpu")
    if choice == "auto":
        choice = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(choice)


def progress(items, desc: str):
    """A progress bar on stderr that redraws at most every 2 s (log files stay short)."""
    return tqdm(items, desc=desc, leave=False, mininterval=2.0)


def snakemake_setup(smk) -> logging.Logger:
    """Set up from a Snakemake ``script:`` object (its first log file and threads)."""
    return setup(smk.log[0] if smk.log else None, smk.threads)
