"""Process set-up of the pipeline's jobs, measured in fresh interpreters."""
import ctypes
import json
import subprocess
import sys

import pytest

from conftest import REPO

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


# One real computation through every library that picks kernels by instruction set: the
# synthetic generator (numpy), the mel spectrogram (torch.stft and matmul: MKL), a 2D CNN's
# forward and backward pass (oneDNN convolutions, ATen softmax); prints the kernels torch
# runs and a digest of every result
PROBE = """
import hashlib, json, numpy as np, torch, yaml
from crossrep import features, models, runtime, synthetic
torch.manual_seed(0)
params = yaml.safe_load(open("params.yaml"))
audio = np.stack([synthetic.generate_track(g, 0, 0, 2.0, 22050) for g in ("jazz", "metal")])
x = torch.from_numpy(features.Spectrogram(features.SpectrogramConfig.from_params(
    params["spectrogram"], 22050)).db("mel", audio))
model = models.CNN2D(x.shape[1], x.shape[2], 10, widths=[4, 4, 8, 8], dense=16)
loss = torch.nn.functional.cross_entropy(model(x), torch.tensor([0, 1]))
loss.backward()
digest = hashlib.sha1(audio.tobytes() + x.numpy().tobytes())
for p in model.parameters():
    digest.update(p.grad.numpy().tobytes())
print(json.dumps({"kernels": runtime.cpu_kernels(), "digest": digest.hexdigest()}))
"""


def probe(isa: str) -> dict:
    """The probe's kernels and digest in a fresh interpreter pinned to ``isa`` (the pipeline's
    way: the environment is set before numpy and torch load)."""
    from crossrep import runtime

    out = subprocess.run([sys.executable, "-c", PROBE], check=True, capture_output=True, text=True,
                         env=runtime.pinned_environment(isa), cwd=REPO)
    return json.loads(out.stdout)


def test_a_lower_pin_takes_effect_and_repeats():
    """Pinned below the machine's best, the kernels are the pinned ones, the numbers differ
    from the unpinned ones and are identical run to run."""
    from crossrep import runtime

    native = probe("native")
    lower = {"AVX512": "avx2", "AVX2": "sse4"}.get(native["kernels"])
    if lower is None:
        pytest.skip(f"torch runs {native['kernels']} kernels here: no lower pin to compare with")
    first, second = probe(lower), probe(lower)
    assert first["kernels"] == runtime.TORCH_CAPABILITY[lower]
    assert first == second
    assert first["digest"] != native["digest"]


def test_native_pins_nothing_and_a_missing_isa_is_logged(monkeypatch, caplog):
    from crossrep import runtime

    assert runtime.cpu_isa_environment("native") == {}
    env = runtime.cpu_isa_environment("avx2")
    if env:  # x86-64
        assert env["ATEN_CPU_CAPABILITY"] == "avx2" and env["MKL_CBWR"] == "AVX2"
    monkeypatch.setenv("CROSSREP_CPU_ISA", "avx2")
    with caplog.at_level("INFO", logger="crossrep"):
        runtime.check_cpu_isa("DEFAULT")
        runtime.check_cpu_isa("AVX2")
    warning, info = caplog.records
    assert warning.levelname == "WARNING" and "runs torch's DEFAULT kernels" in warning.getMessage()
    assert info.levelname == "INFO" and "pinned to avx2" in info.getMessage()
