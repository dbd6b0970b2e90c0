"""Process set-up shared by the workflow scripts and the CLI: logging, threads, device."""
from __future__ import annotations

import logging
import sys
from pathlib import Path

import torch


def setup(log_file=None, threads: int = 1) -> logging.Logger:
    """Log to stderr and to ``log_file``; pin torch's thread count.

    Torch picks all cores by default; on small machines many small ops are far slower
    multi-threaded (measured: torch.stft ~50x on 2 threads), so every step sets it.
    """
    handlers = [logging.StreamHandler(sys.stderr)]
    if log_file:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, mode="w"))
    logging.basicConfig(level=logging.INFO, handlers=handlers, force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(max(1, int(threads)))
    return logging.getLogger("crossrep")


def device(choice: str = "auto") -> torch.device:
    """``auto`` takes CUDA when present, else CPU; ``cuda`` fails clearly without a GPU."""
    if choice == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("train.device: cuda requested but no CUDA device is visible; use auto or cpu")
    if choice == "auto":
        choice = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(choice)


def snakemake_setup(smk) -> logging.Logger:
    """Set up from a Snakemake ``script:`` object (its first log file and threads)."""
    return setup(smk.log[0] if smk.log else None, smk.threads)
