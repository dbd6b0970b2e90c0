"""Process set-up of the pipeline's jobs, measured in fresh interpreters."""
import ctypes
import subprocess
import sys

import pytest

# allocate and free a 64 MB tensor 60 times, as a training step does with its activations;
# print the page faults that took
ALLOCATE = """
import resource, torch
from crossrep import runtime
if {tuned}:
    assert runtime.keep_freed_memory()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(60):
    torch.ones(16 * 2**20).sum()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def faults(tuned: bool) -> int:
    out = subprocess.run([sys.executable, "-c", ALLOCATE.format(tuned=tuned)], check=True, capture_output=True,
                         text=True)
    return int(out.stdout)


@pytest.mark.skipif(not hasattr(ctypes.CDLL(None), "gnu_get_libc_version"), reason="glibc only")
def test_freed_memory_is_reused_not_faulted_in_again():
    default, tuned = faults(False), faults(True)
    # default glibc: every 64 MB block is a fresh mmap (16k pages each time); tuned: the heap keeps it
    assert default > 60 * 15_000
    assert tuned < default / 5  # measured: 983 k against 115 k
