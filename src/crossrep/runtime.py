"""Process set-up shared by the workflow scripts and the CLI: logging, threads, device.

torch is imported only by the steps that use it; this module does not import it for them.
"""
from __future__ import annotations

import ctypes
import logging
import os
import platform
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
        check_cpu_isa(cpu_kernels())
    return log


# What each ``compute.cpu_isa`` pin sets, for every library here that picks its kernels by
# the CPU's instruction set at run time. Measured on an AVX-512 machine, each variable alone
# changes some results: ATen (torch's own kernels: softmax), oneDNN (convolutions, batch
# norm), MKL (linear layers, torch.stft, torch.exp; CBWR is its "conditional numerical
# reproducibility" branch), OpenBLAS (numpy's and scipy's matmul) and numpy's own loops
# (exp, log), whose feature groups are X86_V3 (AVX2) and X86_V4 (AVX-512).
CPU_ISA_PINS = {
    "sse4": {"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41", "MKL_CBWR": "SSE4_2",
             "OPENBLAS_CORETYPE": "Nehalem"},
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_CBWR": "AVX2",
             "OPENBLAS_CORETYPE": "Haswell"},
    "avx512": {"ATEN_CPU_CAPABILITY": "avx512", "ONEDNN_MAX_CPU_ISA": "AVX512_CORE", "MKL_CBWR": "AVX512",
               "OPENBLAS_CORETYPE": "SkylakeX"},
}
NUMPY_FEATURES_ABOVE = {"sse4": ("X86_V3", "X86_V4", "AVX512_ICL", "AVX512_SPR"),
                        "avx2": ("X86_V4", "AVX512_ICL", "AVX512_SPR"),
                        "avx512": ("AVX512_ICL", "AVX512_SPR")}
TORCH_CAPABILITY = {"sse4": "DEFAULT", "avx2": "AVX2", "avx512": "AVX512"}  # what torch reports when pinned


def cpu_isa_environment(isa: str) -> dict[str, str]:
    """The environment variables that pin a process's kernels to ``isa`` (``compute.cpu_isa``):
    set them before the process imports numpy or torch, which read them once, as they load.

    Empty for ``native`` and off x86-64. A pin is a ceiling: a machine without ``isa`` runs
    lower kernels, and :func:`check_cpu_isa` warns in its jobs' logs.
    """
    if isa == "native" or platform.machine().lower() not in ("x86_64", "amd64"):
        return {}
    env = {**CPU_ISA_PINS[isa], "CROSSREP_CPU_ISA": isa}
    machine = _numpy_cpu_features()
    numpy_off = [f for f in NUMPY_FEATURES_ABOVE[isa] if f in machine]
    if numpy_off:  # numpy warns about disabling a feature the machine lacks
        env["NPY_DISABLE_CPU_FEATURES"] = " ".join(numpy_off)
    return env


def pinned_environment(isa: str, environ=None) -> dict[str, str]:
    """``environ`` (default: this process's) with every pin variable replaced by ``isa``'s: what
    a child process needs to run pinned to ``isa`` (unpinned for ``native``), whatever pin its
    parent ran under."""
    pin_names = {name for pin in CPU_ISA_PINS.values() for name in pin} | {"NPY_DISABLE_CPU_FEATURES",
                                                                          "CROSSREP_CPU_ISA"}
    environ = os.environ if environ is None else environ
    return {k: v for k, v in environ.items() if k not in pin_names} | cpu_isa_environment(isa)


def _numpy_cpu_features() -> set[str]:
    """The machine's CPU features that numpy can dispatch to (those already disabled in this
    process's environment included)."""
    from numpy._core._multiarray_umath import __cpu_features__

    disabled = os.environ.get("NPY_DISABLE_CPU_FEATURES", "").replace(",", " ").split()
    return {name for name, found in __cpu_features__.items() if found} | set(disabled)


def cpu_kernels() -> str:
    """The instruction set torch's CPU kernels run in this process (AVX512, AVX2, DEFAULT)."""
    import torch

    return torch.backends.cpu.get_cpu_capability()


def check_cpu_isa(torch_capability: str) -> None:
    """Warn when this process's kernels are not the pinned ones (a machine without the
    pinned instruction set): its numbers will differ from those of machines that have it."""
    isa = os.environ.get("CROSSREP_CPU_ISA")
    if isa is None:
        return
    if torch_capability != TORCH_CAPABILITY[isa]:
        log.warning("compute.cpu_isa is %s, but this machine runs torch's %s kernels: its results will "
                    "differ from those of machines with %s", isa, torch_capability, isa)
    else:
        log.info("CPU kernels pinned to %s (compute.cpu_isa)", isa)


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
