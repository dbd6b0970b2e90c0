"""The paper's 2D CNN (Table I) and 1D CNN (Table II, Abdoli et al.), and the study's held-out
targets (a sample-level 1D CNN, a residual 2D CNN), with input normalisation inside the
model so attacks and epsilons act on raw dB / raw audio.

Checkpoints are plain dicts of tensors, numbers and strings, loaded with
``torch.load(weights_only=True)``: they stand alone (architecture, weights,
normalisation, class names, training params) and never unpickle code.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from . import FAMILY
from .shapes import CNN1D_KERNELS, CNN1D_POOLS, TABLE_I_POOLS, cnn1d_output_length, cnn2d_output_shape

MODEL_KINDS = tuple(FAMILY)


class Standardize(nn.Module):
    """(x - mean) / std with statistics of the training folds, stored as buffers."""

    def __init__(self, shape):
        super().__init__()
        self.register_buffer("mean", torch.zeros(shape))
        self.register_buffer("std", torch.ones(shape))

    def set(self, mean, std):
        self.mean.copy_(torch.as_tensor(mean, dtype=torch.float32).reshape(self.mean.shape))
        self.std.copy_(torch.clamp(torch.as_tensor(std, dtype=torch.float32), min=1e-6).reshape(self.std.shape))

    def forward(self, x):
        return (x - self.mean) / self.std




class CNN2D(nn.Module):
    """Table I: 2x conv3x3(w0,w1), maxpool, 2x conv3x3(w2,w3), maxpool, dense, dropout, output.

    ``pools``: (size, stride) of the two max-pools (Table I's text: 2 and 2; the authors'
    code: 2/2 then 4/2). ``activation``: relu or leaky_relu (slope 0.2, the authors'
    conv2-4). ``batchnorm``: after every convolution, or after the first only (the
    authors'). ``conv_dropout``: dropout after the first pool (authors: 0.05). The
    paper's widths are (32, 32, 64, 64) with a 1024 dense layer.
    """

    def __init__(self, n_bins: int, n_frames: int, n_classes: int = 10, widths=(32, 32, 64, 64),
                 dense: int = 1024, dropout: float = 0.4, pools=TABLE_I_POOLS, activation: str = "relu",
                 batchnorm: str = "every_conv", conv_dropout: float = 0.0):
        super().__init__()
        if activation not in ("relu", "leaky_relu") or batchnorm not in ("every_conv", "first_conv"):
            raise ValueError(f"CNN2D: activation {activation!r} (relu|leaky_relu), "
                             f"batchnorm {batchnorm!r} (every_conv|first_conv)")
        self.norm = Standardize((1, n_bins, 1))  # per-frequency-bin statistics
        layers, channels = [], 1
        for i, width in enumerate(widths):
            layers.append(nn.Conv2d(channels, width, 3))
            if batchnorm == "every_conv" or i == 0:
                layers.append(nn.BatchNorm2d(width))
            # in place: the BatchNorm or convolution before it needs its input, not its output,
            # for the backward, and a 50-segment batch's activation is up to 0.7 GB at paper
            # widths (same numbers, one allocation less)
            layers.append(nn.ReLU(inplace=True) if activation == "relu" else nn.LeakyReLU(0.2, inplace=True))
            channels = width
            if i in (1, 3):
                size, stride = pools[i // 2]
                layers.append(nn.MaxPool2d(size, stride))
            if i == 1 and conv_dropout:
                layers.append(nn.Dropout(conv_dropout))
        self.features = nn.Sequential(*layers)
        h, w = cnn2d_output_shape(n_bins, n_frames, pools)
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(widths[-1] * h * w, dense), nn.ReLU(inplace=True),
                                        nn.Dropout(dropout), nn.Linear(dense, n_classes))
        # channels-last convolutions are ~2x faster on CPU for these thin layers (measured)
        self.features.to(memory_format=torch.channels_last)

    def forward(self, spec):  # (batch, bins, frames) in dB
        x = self.norm(spec).unsqueeze(1).contiguous(memory_format=torch.channels_last)
        return self.classifier(self.features(x))


def gammatone_bank(n_filters: int, taps: int, sample_rate: int, fmin: float, fmax: float):
    """((n_filters, taps) FIR Gammatone filters, centre frequencies), centres ERB-spaced."""
    from scipy import signal  # only designing a bank needs scipy.signal (~0.8 s to import per job)

    def erb(f):
        return 21.4 * np.log10(1 + 0.00437 * f)

    def erb_inv(e):
        return (10 ** (e / 21.4) - 1) / 0.00437

    centres = erb_inv(np.linspace(erb(fmin), erb(fmax), n_filters))
    return np.stack([signal.gammatone(f, "fir", numtaps=taps, fs=sample_rate)[0] for f in centres]), centres


class Gammatone(nn.Module):
    """Frozen Gammatone filterbank (a true convolution, valid mode), direct or by FFT.

    The FFT path is exact up to float rounding and much faster for 512 taps on CPU.
    """

    def __init__(self, n_filters=32, taps=512, sample_rate=22050, fmin=100.0, fmax=8000.0, fft=True, design=True):
        super().__init__()
        if design:
            bank, centres = gammatone_bank(n_filters, taps, sample_rate, fmin, fmax)
        else:  # placeholders: a checkpoint's state dict brings the bank
            bank, centres = np.zeros((n_filters, taps)), np.zeros(n_filters)
        # conv1d correlates; flipping the taps makes it the filters' convolution
        self.register_buffer("weight", torch.as_tensor(bank[:, ::-1].copy(), dtype=torch.float32).unsqueeze(1))
        self.register_buffer("centres", torch.as_tensor(centres, dtype=torch.float32))
        self.fft = fft
        self.register_buffer("bias", None)  # set by fold_batchnorm (inference copies)
        self._spectrum = {}

    def fold_batchnorm(self, bn: nn.BatchNorm1d) -> None:
        """Take an eval-mode BatchNorm that follows the bank into its taps and a bias (the bank
        is linear and frozen, so the two are one affine filter per channel)."""
        scale = (bn.weight / torch.sqrt(bn.running_var + bn.eps)).detach()
        self.weight = self.weight * scale[:, None, None]
        self.bias = (bn.bias - bn.running_mean * scale).detach()
        self._spectrum = {}

    def forward(self, x):  # (batch, 1, samples) -> (batch, filters, samples - taps + 1)
        if not self.fft:
            return F.conv1d(x, self.weight, self.bias)
        from scipy.fft import next_fast_len  # here: scipy.fft's import (0.2 s) is for the 1D CNN only

        n, taps = x.shape[-1], self.weight.shape[-1]
        size = next_fast_len(n + taps - 1, real=True)
        key = (size, x.device, x.dtype)
        if key not in self._spectrum:  # filters' spectrum per FFT size (frozen weights)
            self._spectrum = {key: torch.fft.rfft(self.weight[:, 0].flip(-1).to(x.dtype), size)}
        y = torch.fft.irfft(torch.fft.rfft(x, size) * self._spectrum[key], size)[..., taps - 1:n]
        return y if self.bias is None else y + self.bias[:, None]


class FFTConv1d(nn.Conv1d):
    """``nn.Conv1d`` (no padding, dilation or groups; any stride) computed through the FFT:
    the same function and parameters up to float rounding (~1e-6 relative). For the 1D CNN's
    256-tap first layer on ~14k samples, oneDNN's direct kernel is slow on CPU: forward and
    backward together 4x faster by FFT, measured at demo widths."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.padding != (0,) or self.dilation != (1,) or self.groups != 1:
            raise ValueError("FFTConv1d computes a valid, undilated, ungrouped convolution only")

    def forward(self, x):  # (batch, in, samples) -> (batch, out, (samples - taps) // stride + 1)
        from scipy.fft import next_fast_len

        n, taps = x.shape[-1], self.kernel_size[0]
        size = next_fast_len(n, real=True)  # >= n: the outputs kept never wrap around
        # correlation, as nn.Conv1d: X times the conjugate of W's spectrum, summed over inputs;
        # one product per output channel (einsum's complex batched matmul is ~4x slower here)
        inputs, filters = torch.fft.rfft(x, size), torch.fft.rfft(self.weight, size).conj()
        spectrum = torch.stack([(inputs * bank).sum(1) for bank in filters], 1)
        y = torch.fft.irfft(spectrum, size)[..., : n - taps + 1 : self.stride[0]]
        return y if self.bias is None else y + self.bias[:, None]


FFT_MIN_TAPS = 128  # a CNN1D convolution this long runs through the FFT (Table II's first, 256 taps)


class CNN1D(nn.Module):
    """Table II: Gammatone(32x512, frozen), avgpool 8, conv(16,256,/2), avgpool 8,
    conv(32,64,/2), conv(64,32,/2), conv(128,16,/2), maxpool 2, dense 256, output.

    BatchNorm after every convolution, leaky ReLU activations, dropout 0.4.
    """

    def __init__(self, samples: int = 110250, n_classes: int = 10, gammatone_filters=32, gammatone_taps=512,
                 gammatone_fmin=100.0, gammatone_fmax=8000.0, sample_rate=22050, widths=(16, 32, 64, 128),
                 dense=256, dropout=0.4, fft_gammatone=True, design_gammatone=True):
        super().__init__()
        self.norm = Standardize((1,))
        self.gammatone = Gammatone(gammatone_filters, gammatone_taps, sample_rate, gammatone_fmin,
                                   gammatone_fmax, fft_gammatone, design_gammatone)
        layers = [nn.BatchNorm1d(gammatone_filters), nn.LeakyReLU(inplace=True), nn.AvgPool1d(CNN1D_POOLS[0])]
        channels = gammatone_filters
        for i, (width, kernel) in enumerate(zip(widths, CNN1D_KERNELS, strict=True)):
            conv = FFTConv1d if kernel >= FFT_MIN_TAPS else nn.Conv1d
            layers += [conv(channels, width, kernel, stride=2), nn.BatchNorm1d(width), nn.LeakyReLU(inplace=True)]
            channels = width
            if i == 0:
                layers.append(nn.AvgPool1d(CNN1D_POOLS[1]))
        layers.append(nn.MaxPool1d(2))
        self.features = nn.Sequential(*layers)
        length = cnn1d_output_length(samples, gammatone_taps)
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(widths[-1] * length, dense), nn.LeakyReLU(inplace=True),
                                        nn.Dropout(dropout), nn.Linear(dense, n_classes))

    def forward(self, audio):  # (batch, samples)
        return self.classifier(self.features(self.gammatone(self.norm(audio).unsqueeze(1))))


class SampleCNN(nn.Module):
    """A held-out waveform target, after the sample-level CNN of Lee et al. (2017): no
    Gammatone front end; a strided 3-sample convolution, then per further width a block of
    conv 3, BatchNorm, ReLU and max-pool 3; the maximum and the mean over time; dropout;
    output. Its first layers see single samples, where the 1D CNN sees a filterbank."""

    def __init__(self, samples: int = 110250, n_classes: int = 10, widths=(16, 16, 32, 32, 64, 64),
                 dropout: float = 0.5):
        super().__init__()
        if samples // 3 ** len(widths) < 1:
            raise ValueError(f"SampleCNN: {samples} samples are too few for {len(widths)} blocks of 3x pooling")
        self.norm = Standardize((1,))
        layers, channels = [nn.Conv1d(1, widths[0], 3, stride=3), nn.BatchNorm1d(widths[0]), nn.ReLU(inplace=True)], \
            widths[0]
        for width in widths[1:]:
            layers += [nn.Conv1d(channels, width, 3, padding=1), nn.BatchNorm1d(width), nn.ReLU(inplace=True),
                       nn.MaxPool1d(3)]
            channels = width
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * channels, n_classes))

    def forward(self, audio):  # (batch, samples)
        x = self.features(self.norm(audio).unsqueeze(1))
        return self.classifier(torch.cat([x.amax(-1), x.mean(-1)], 1))


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions with BatchNorm, added to the input (a 1x1 convolution where the
    shape changes), then ReLU (He et al. 2016)."""

    def __init__(self, channels: int, width: int, stride: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(channels, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width),
                                  nn.ReLU(inplace=True), nn.Conv2d(width, width, 3, 1, 1, bias=False),
                                  nn.BatchNorm2d(width))
        self.shortcut = (nn.Identity() if stride == 1 and channels == width else
                         nn.Sequential(nn.Conv2d(channels, width, 1, stride, bias=False), nn.BatchNorm2d(width)))

    def forward(self, x):
        return F.relu(self.body(x) + self.shortcut(x))


class ResNet2D(nn.Module):
    """A held-out spectrogram target: a residual 2D CNN (conv 3x3 stem, max-pool 2, one
    stride-2 residual block per width, global average pooling, dropout, output), unlike
    Table I's plain stack and its dense layer over every position."""

    def __init__(self, n_bins: int, n_frames: int, n_classes: int = 10, widths=(8, 16, 32), dropout: float = 0.2):
        super().__init__()
        self.norm = Standardize((1, n_bins, 1))
        layers, channels = [nn.Conv2d(1, widths[0], 3, padding=1, bias=False), nn.BatchNorm2d(widths[0]),
                            nn.ReLU(inplace=True), nn.MaxPool2d(2)], widths[0]
        for width in widths:
            layers.append(ResidualBlock(channels, width, 2))
            channels = width
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(channels, n_classes))
        # not channels-last (unlike CNN2D): with torch 2.13 on CPU its training step crashes
        # (segmentation fault) at 128 and 257 bins in that layout (measured)

    def forward(self, spec):  # (batch, bins, frames) in dB
        return self.classifier(self.features(self.norm(spec).unsqueeze(1)).mean((2, 3)))


def build(kind: str, arch: dict, weights_follow: bool = False) -> nn.Module:
    """A model from its architecture dict (as stored in checkpoints). ``weights_follow``: a
    state dict will be loaded next, so the 1D CNN's frozen Gammatone bank is not designed."""
    if kind.startswith("cnn2d"):
        return CNN2D(**arch)
    if kind == "cnn1d":
        return CNN1D(**arch, design_gammatone=not weights_follow)
    if kind == "samplecnn":
        return SampleCNN(**arch)
    if kind == "resnet_mel":
        return ResNet2D(**arch)
    raise ValueError(f"model kind {kind!r} unknown; choose one of {MODEL_KINDS}")


def architecture(kind: str, model_params: dict, n_classes: int, sample_rate: int, window: int,
                 n_bins: int | None = None, n_frames: int | None = None) -> dict:
    """The constructor arguments for ``kind`` from params.yaml's ``model`` section."""
    if kind.startswith("cnn2d"):
        p = model_params["cnn2d"]
        return dict(n_bins=n_bins, n_frames=n_frames, n_classes=n_classes, widths=list(p["widths"]),
                    dense=p["dense"], dropout=p["dropout"], pools=[list(pool) for pool in p["pools"]],
                    activation=p["activation"], batchnorm=p["batchnorm"], conv_dropout=p["conv_dropout"])
    if kind == "resnet_mel":
        p = model_params["resnet"]
        return dict(n_bins=n_bins, n_frames=n_frames, n_classes=n_classes, widths=list(p["widths"]),
                    dropout=p["dropout"])
    if kind == "samplecnn":
        p = model_params["samplecnn"]
        return dict(samples=window, n_classes=n_classes, widths=list(p["widths"]), dropout=p["dropout"])
    p = model_params["cnn1d"]
    return dict(samples=window, n_classes=n_classes, sample_rate=sample_rate, **p)


def save_checkpoint(path, model: nn.Module, kind: str, arch: dict, classes, params: dict, history: dict):
    from .shards import atomic_path

    payload = dict(kind=kind, arch=arch, classes=list(classes), params=params, history=history,
                   state_dict={k: v.detach().cpu() for k, v in model.state_dict().items()})
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_checkpoint(path, device="cpu") -> tuple[nn.Module, dict]:
    """(model in eval mode, checkpoint dict). Only tensors and plain data are unpickled."""
    try:
        ckpt = torch.load(path, map_location=device, weights_only=True)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: checkpoint not found; train it with snakemake first") from None
    except Exception as exc:
        raise ValueError(f"{path}: not a crossrep checkpoint ({type(exc).__name__}: {exc}); "
                         "retrain it (snakemake deletes and rebuilds)") from exc
    for key in ("kind", "arch", "classes", "state_dict"):
        if key not in ckpt:
            raise ValueError(f"{path}: checkpoint lacks {key!r}; it was not written by crossrep")
    model = build(ckpt["kind"], ckpt["arch"], weights_follow=True).to(device)
    model.load_state_dict(ckpt["state_dict"])
    model.eval()
    return model, ckpt


def inference_copy(model: nn.Module) -> nn.Module:
    """A copy of an eval-mode model with every BatchNorm that follows a convolution folded
    into that convolution's weights and bias (``torch.nn.utils.fusion``; the 1D CNN's first
    BatchNorm into its Gammatone bank, ``Gammatone.fold_batchnorm``): the same function
    up to float rounding, one elementwise pass less forward and backward. For attacks and
    scoring on frozen models, where BatchNorm is an affine map; never for training."""
    import copy

    from torch.nn.utils.fusion import fuse_conv_bn_eval

    if model.training:
        raise ValueError("inference_copy folds BatchNorm's running statistics: put the model in eval mode first")
    fused = copy.deepcopy(model)
    for block in [m for m in fused.modules() if isinstance(m, nn.Sequential)]:  # ResNet2D's blocks too
        for i in range(len(block) - 1):
            conv, norm = block[i], block[i + 1]
            if isinstance(conv, nn.Conv1d | nn.Conv2d) and isinstance(norm, nn.BatchNorm1d | nn.BatchNorm2d):
                block[i], block[i + 1] = fuse_conv_bn_eval(conv, norm), nn.Identity()
    if isinstance(fused, CNN1D):  # the BatchNorm right after the frozen Gammatone bank folds into the bank
        fused.gammatone.fold_batchnorm(fused.features[0])
        fused.features[0] = nn.Identity()
    if isinstance(fused, CNN2D):
        fused.features.to(memory_format=torch.channels_last)
    return fused.eval()


def untrained_like(ckpt: dict, seed: int, device="cpu") -> nn.Module:
    """The checkpoint's architecture with fresh weights (torch's default initialisation,
    drawn after ``torch.manual_seed(seed)``), in eval mode. What training does not learn is
    kept: the input normalisation (so an eps means the same on both) and the 1D CNN's frozen
    Gammatone bank. An attack crafted on it measures what a perturbation of that budget and
    procedure does without anything learned behind it (the study's random-init source)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build(ckpt["kind"], ckpt["arch"], weights_follow=True)
    state = model.state_dict()
    state.update({name: value for name, value in ckpt["state_dict"].items()
                  if name.startswith(("norm.", "gammatone."))})
    model.load_state_dict(state)
    return model.to(device).eval()
