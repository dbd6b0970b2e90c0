"""How much of this CPU's arithmetic each compute step uses: achieved GFLOP/s of one batch as
a fraction of the float32 matrix-multiply rate measured in the same run with the same threads.

Steps, at the batch sizes their rules use (params.yaml; the paper preset's train.batch_size
for paper widths): the 2D CNNs' training step (forward, backward, Adam step), one attack
iteration (forward + backward to the input), the 1D CNN's training step and forward, the
spectrograms and one Griffin-Lim iteration, at demo widths (params.yaml) and paper widths
(presets/gtzan-paper.yaml). FLOPs: torch's FlopCounterMode for the models (convolutions,
matrix products; Adam and the elementwise layers are not counted, so the fraction is a
lower bound); FFTs by formula (2.5 N log2 N per real FFT of size N, the usual split-radix
count). The memory-bound side: a large copy's bandwidth, and each step's least DRAM traffic
(``train_traffic``: every layer's activations and the weights, as if nothing stayed in
cache), so each step is also set against its roofline bound, max(FLOPs / matmul rate,
bytes / copy bandwidth).

Below the table, where the time of the paper-width 2D CNN training steps goes: torch's
profiler's self time per operator (forward and backward), so a step far below the matmul
rate shows which operators hold it there.

    python bench/roofline.py                  # torch's default thread count
    python bench/roofline.py --threads 2
    python bench/roofline.py --json           # also one JSON line of every figure (compare commits)
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import torch
import yaml
from torch.utils.flop_counter import FlopCounterMode

from crossrep import models, representation_of, runtime, train
from crossrep.features import Spectrogram, SpectrogramConfig
from crossrep.reconstruction import griffin_lim
from timing import best_seconds

REPO = Path(__file__).resolve().parents[1]


def matmul_gflops(repeats: int) -> float:
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    return 2 * 2048 ** 3 / best_seconds(lambda: torch.mm(a, b), repeats, warmup=1) / 1e9


def copy_gbytes(repeats: int) -> float:
    src = torch.randn(64 * 2 ** 20)  # 256 MiB, far past the caches
    dst = torch.empty_like(src)
    return 2 * src.numel() * 4 / best_seconds(lambda: dst.copy_(src), repeats, warmup=1) / 1e9  # read + write


def counted_flops(fn) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def op_breakdown(fn, top: int) -> list[tuple[str, float, float]]:
    """(operator, share of the step's self CPU time, ms) of the ``top`` costliest operators of one ``fn()``."""
    fn()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        fn()
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events)
    return [(e.key, e.self_cpu_time_total / total, e.self_cpu_time_total / 1e3) for e in events[:top]]


def layer_bytes(model: torch.nn.Module, x: torch.Tensor) -> tuple[int, int]:
    """(bytes of every leaf layer's output for input ``x``, bytes of the trainable weights)."""
    total = [x.numel() * x.element_size()]
    hooks = [m.register_forward_hook(lambda _m, _i, out: total.append(out.numel() * out.element_size()))
             for m in model.modules() if not list(m.children())]
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    weights = sum(p.numel() * p.element_size() for p in model.parameters() if p.requires_grad)
    return sum(total), weights


def train_traffic(activations: int, weights: int) -> int:
    """Least DRAM traffic of a training step, when no activation stays in cache: forward reads
    each layer's input and writes its output (2x activations), backward reads the saved
    input and the output gradient and writes the input gradient (3x); the weights are read
    forward and backward, their gradient written and read, Adam reads and writes the weight
    and both moments (9x weights)."""
    return 5 * activations + 9 * weights


def attack_traffic(activations: int, weights: int) -> int:
    """The same for an attack iteration: forward and backward, no weight update."""
    return 5 * activations + 2 * weights


def model_steps(kind: str, model_params: dict, params: dict, train_batch: int):
    """(name, batch, callable) of one model's compute steps."""
    sr, window = params["audio"]["sample_rate"], params["segment"]["window"]
    cfg = SpectrogramConfig.from_params(params["spectrogram"], sr)
    rep = representation_of(kind)  # None: a waveform model (cnn1d, samplecnn)
    shape = (window,) if rep is None else (cfg.n_bins(rep), cfg.n_frames(window))
    arch = models.architecture(kind, model_params, 10, sr, window, *(shape if rep else ()))
    model = models.build(kind, arch)
    optimiser = train.adam(model, 1e-4)  # as training builds it

    train_x, train_y = torch.randn(train_batch, *shape), torch.randint(0, 10, (train_batch,))
    attack_batch = params["attack"]["batch_size"]
    attack_x, attack_y = torch.randn(attack_batch, *shape), torch.randint(0, 10, (attack_batch,))

    def train_step():
        model.train()
        loss = torch.nn.functional.cross_entropy(model(train_x), train_y)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()

    def attack_iteration():
        model.eval()
        x = attack_x.clone().requires_grad_(True)
        torch.nn.functional.cross_entropy(model(x), attack_y).backward()

    def forward():
        model.eval()
        with torch.no_grad():
            model(attack_x)

    model.eval()
    train_bytes = train_traffic(*layer_bytes(model, train_x))
    attack_act, weights = layer_bytes(model, attack_x)
    yield "train step", train_batch, train_step, train_bytes
    if kind.startswith("cnn2d"):  # attacked in their spectrograms; the other models are scored (forward)
        yield "attack iteration", attack_batch, attack_iteration, attack_traffic(attack_act, weights)
    else:
        yield "forward", attack_batch, forward, 2 * attack_act + weights


def fft_flops(n: int) -> float:
    return 2.5 * n * math.log2(n)


def spectrogram_steps(params: dict):
    sr, window = params["audio"]["sample_rate"], params["segment"]["window"]
    cfg = SpectrogramConfig.from_params(params["spectrogram"], sr)
    transform = Spectrogram(cfg)
    frames, n_fft = cfg.n_frames(window), cfg.n_fft
    batch = params["spectrogram"]["batch_size"]
    audio = torch.randn(batch, window)
    mel_flops = 2 * cfg.n_mels * cfg.n_stft_bins * frames
    complex_bytes = batch * cfg.n_stft_bins * frames * 8
    # audio in, framed copy, complex STFT out and its magnitude, mel out (each touched once)
    yield ("STFT + mel magnitude", batch, lambda: transform.magnitude("mel", audio),
           batch * (frames * fft_flops(n_fft) + mel_flops),
           audio.numel() * 4 * (1 + n_fft // cfg.hop_length) + complex_bytes * 3 // 2)
    gl_batch = params["reconstruction"]["batch_size"]
    mag = torch.rand(gl_batch, cfg.n_stft_bins, frames)
    spectrum = gl_batch * cfg.n_stft_bins * frames * 8
    # one iteration (iSTFT + STFT) and the final iSTFT: three transforms of every frame; each
    # reads and writes a complex spectrum, the momentum update reads two and writes one
    yield ("Griffin-Lim, 1 iteration", gl_batch, lambda: griffin_lim(transform, mag, 1, window),
           3 * gl_batch * frames * fft_flops(n_fft), 9 * spectrum)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--top-ops", type=int, default=6, help="operators listed per paper-width 2D CNN step")
    parser.add_argument("--json", action="store_true", help="end with one JSON line of every figure")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    runtime.keep_freed_memory()  # as the pipeline's jobs run (else page faults take much of the elementwise layers)
    torch.manual_seed(0)
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    paper = yaml.safe_load((REPO / "presets/gtzan-paper.yaml").read_text())
    peak, bandwidth = matmul_gflops(args.repeats), copy_gbytes(args.repeats)
    print(f"{args.threads} threads: float32 matmul {peak:.1f} GFLOP/s (2048^2), copy {bandwidth:.1f} GB/s; "
          f"machine balance {peak / bandwidth:.1f} FLOP/byte\n")
    # of matmul: achieved GFLOP/s / matmul GFLOP/s. FLOP/B: the step's arithmetic intensity
    # (below the machine balance it is memory bound). bound: the time the roofline allows,
    # max(FLOPs / matmul rate, bytes / copy bandwidth); of bound: that time / the measured time
    print(f"{'step':<44}{'batch':>6}{'GFLOP':>8}{'GB':>7}{'FLOP/B':>7}{'s/batch':>9}{'GFLOP/s':>9}"
          f"{'of matmul':>10}{'GB/s':>7}{'bound':>9}{'of bound':>9}")
    rows, profiled = [], []  # profiled: the paper-width 2D CNN training steps, broken down below the table
    paper_model = {family: {**params["model"][family], **paper["model"][family]} for family in params["model"]}
    for widths, model_params, train_batch in (("demo", params["model"], params["train"]["batch_size"]),
                                              ("paper", paper_model, paper["train"]["batch_size"])):
        for kind in models.MODEL_KINDS:
            for name, batch, fn, traffic in model_steps(kind, model_params, params, train_batch):
                rows.append((f"{kind} {name} ({widths} widths)", batch, counted_flops(fn), traffic, fn))
                if widths == "paper" and kind.startswith("cnn2d") and name == "train step":
                    profiled.append(rows[-1])
    for name, batch, fn, flops, traffic in spectrogram_steps(params):
        rows.append((name, batch, flops, traffic, fn))
    figures = []
    for name, batch, flops, traffic, fn in rows:
        seconds = best_seconds(fn, args.repeats, warmup=1)
        bound = max(flops / peak, traffic / bandwidth) / 1e9
        figures.append(dict(step=name, batch=batch, gflop=flops / 1e9, gb=traffic / 1e9, seconds=seconds,
                            of_matmul=flops / seconds / 1e9 / peak, of_bound=bound / seconds))
        print(f"{name:<44}{batch:>6}{flops / 1e9:>8.2f}{traffic / 1e9:>7.2f}{flops / traffic:>7.1f}{seconds:>9.3f}"
              f"{flops / seconds / 1e9:>9.1f}{flops / seconds / 1e9 / peak:>10.1%}{traffic / seconds / 1e9:>7.1f}"
              f"{bound:>9.3f}{bound / seconds:>9.1%}")
    for name, batch, _flops, _traffic, fn in profiled:
        print(f"\n{name}, batch {batch}: where the time goes (profiler self time)")
        for op, share, ms in op_breakdown(fn, args.top_ops):
            print(f"  {op:<42}{share:>7.1%}{ms:>10.1f} ms")
    if args.json:
        print(json.dumps(dict(bench="roofline", threads=args.threads, matmul_gflops=peak, copy_gbs=bandwidth,
                              steps=figures)))


if __name__ == "__main__":
    main()
