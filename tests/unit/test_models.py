import subprocess
import sys

import numpy as np
import pytest
import torch

from crossrep import models
from crossrep.shapes import AUTHORS_POOLS, TABLE_I_POOLS, cnn1d_output_length, cnn2d_output_shape

PAPER_2D = dict(widths=(32, 32, 64, 64), dense=1024)
# Table I output shapes (height x width x channels) for STFT and mel inputs. With the pools
# Table I's text gives (2 and 2) the last MaxPool row is 61x104 / 13x104; the paper's own
# table prints 60x103 / 12x103, which is what the authors' Keras code gives: its final
# max-pool is 4x4 with stride 2 ((122 - 4) // 2 + 1 = 60). Both are built and checked.
TABLE_I_ROWS = {
    "stft": [(255, 429, 32), (253, 427, 32), (126, 213, 32), (124, 211, 64), (122, 209, 64)],
    "mel": [(62, 429, 32), (60, 427, 32), (30, 213, 32), (28, 211, 64), (26, 209, 64)],
}
LAST_POOL = {("stft", "table_i"): (61, 104), ("mel", "table_i"): (13, 104),
             ("stft", "authors"): (60, 103), ("mel", "authors"): (12, 103)}
POOLS = {"table_i": TABLE_I_POOLS, "authors": AUTHORS_POOLS}
TABLE_II = [109739, 13717, 6731, 841, 389, 179, 82, 41]


@pytest.mark.parametrize("pools", ["table_i", "authors"])
@pytest.mark.parametrize("rep,bins", [("stft", 257), ("mel", 64)])
def test_cnn2d_matches_table_i_layer_by_layer(rep, bins, pools):
    model = models.CNN2D(bins, 431, 10, pools=POOLS[pools], **PAPER_2D).eval()
    x = torch.randn(1, bins, 431)
    shapes, h = [], model.norm(x).unsqueeze(1)
    expected = TABLE_I_ROWS[rep] + [(*LAST_POOL[rep, pools], 64)]
    with torch.no_grad():
        for layer in model.features:
            h = layer(h)
            if isinstance(layer, (torch.nn.Conv2d, torch.nn.MaxPool2d)):
                shapes.append((h.shape[2], h.shape[3], h.shape[1]))
        assert shapes == expected
        flat = model.classifier[1]
        assert flat.in_features == 64 * expected[-1][0] * expected[-1][1] and flat.out_features == 1024
        assert cnn2d_output_shape(bins, 431, POOLS[pools]) == LAST_POOL[rep, pools]
        assert model(x).shape == (1, 10)
    if rep == "stft":
        height, width = LAST_POOL[rep, pools]
        assert flat.weight.numel() == height * width * 64 * 1024   # the ~400 M-weight dense layer


def test_cnn2d_authors_layer_scheme():
    """The authors' options: one BatchNorm (after conv1), LeakyReLU(0.2), dropout after pool 1."""
    model = models.CNN2D(64, 431, 10, widths=(4, 4, 8, 8), dense=16, pools=AUTHORS_POOLS,
                         activation="leaky_relu", batchnorm="first_conv", conv_dropout=0.05)
    kinds = [type(layer).__name__ for layer in model.features]
    assert kinds == ["Conv2d", "BatchNorm2d", "LeakyReLU", "Conv2d", "LeakyReLU", "MaxPool2d", "Dropout",
                     "Conv2d", "LeakyReLU", "Conv2d", "LeakyReLU", "MaxPool2d"]
    assert model.features[2].negative_slope == 0.2 and model.features[6].p == 0.05
    assert model.features[11].kernel_size == 4 and model.features[11].stride == 2


def test_cnn1d_matches_table_ii_layer_by_layer():
    model = models.CNN1D(gammatone_filters=32, widths=(16, 32, 64, 128), dense=256).eval()
    x = torch.randn(1, 110250)
    lengths, channels = [], []
    with torch.no_grad():
        h = model.gammatone(model.norm(x).unsqueeze(1))
        lengths.append(h.shape[-1]), channels.append(h.shape[1])
        for layer in model.features:
            h = layer(h)
            if isinstance(layer, (torch.nn.Conv1d, torch.nn.AvgPool1d, torch.nn.MaxPool1d)):
                lengths.append(h.shape[-1]), channels.append(h.shape[1])
        assert lengths == TABLE_II
        assert channels == [32, 32, 16, 16, 32, 64, 128, 128]
        assert model.classifier[1].in_features == 41 * 128 and model.classifier[1].out_features == 256
        assert model(x).shape == (1, 10)
    assert cnn1d_output_length(110250, 512) == 41


def test_gammatone_is_frozen_and_peaks_at_centre_frequencies():
    gt = models.Gammatone(32, 512, 22050, 100.0, 8000.0)
    assert not any(p.requires_grad for p in gt.parameters())       # buffers, never trained
    model = models.CNN1D(gammatone_filters=32)
    names = [n for n, _ in model.named_parameters()]
    assert not any(n.startswith("gammatone") for n in names)
    n_fft = 1 << 16
    response = np.abs(np.fft.rfft(gt.weight[:, 0].numpy(), n_fft, axis=1))
    peaks = np.fft.rfftfreq(n_fft, 1 / 22050)[response.argmax(1)]
    centres = gt.centres.numpy()
    assert np.all(np.abs(peaks - centres) / centres < 0.05)
    assert np.all(np.diff(centres) > 0) and abs(centres[0] - 100) < 1e-3 and abs(centres[-1] - 8000) < 1e-2
    # scipy normalises each FIR to unit peak gain; 512 taps (23 ms) truncate the slow
    # low-frequency impulse responses, which then peak lower (0.76 at 100 Hz)
    gain = response.max(1)
    assert np.all((gain > 0.7) & (gain < 1.02)) and np.all(np.abs(gain[8:] - 1) < 0.02)


def test_fft_gammatone_equals_direct_convolution():
    direct = models.Gammatone(8, 512, 22050, 100.0, 8000.0, fft=False)
    fft = models.Gammatone(8, 512, 22050, 100.0, 8000.0, fft=True)
    x = torch.randn(3, 1, 22050)
    a, b = direct(x), fft(x)
    assert a.shape == b.shape == (3, 8, 22050 - 511)
    assert (a - b).abs().max() < 1e-4 * a.abs().max()


@pytest.mark.parametrize("stride", [1, 2, 3])
def test_fft_conv1d_is_conv1d_forward_and_backward(stride):
    """The same layer (parameters, output length, gradients to input and weights) as
    nn.Conv1d, up to float rounding; it is what the 1D CNN's 256-tap layer runs."""
    torch.manual_seed(0)
    direct = torch.nn.Conv1d(3, 5, 64, stride=stride)
    fft = models.FFTConv1d(3, 5, 64, stride=stride)
    fft.load_state_dict(direct.state_dict())
    x = torch.randn(2, 3, 1001, requires_grad=True)
    (a, *grads_a), (b, *grads_b) = [(y := layer(x), *torch.autograd.grad(y.square().sum(), [x, layer.weight]))
                                    for layer in (direct, fft)]
    assert a.shape == b.shape == (2, 5, (1001 - 64) // stride + 1)
    torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-4 * a.abs().max().item())
    for ga, gb in zip(grads_a, grads_b, strict=True):
        torch.testing.assert_close(gb, ga, rtol=1e-3, atol=1e-4 * ga.abs().max().item())
    assert isinstance(models.CNN1D(samples=33075, gammatone_filters=4, widths=(4, 4, 4, 4)).features[3],
                      models.FFTConv1d)
    with pytest.raises(ValueError, match="valid"):
        models.FFTConv1d(3, 5, 64, padding=2)


def test_checkpoint_round_trip(tmp_path):
    arch = dict(n_bins=64, n_frames=431, n_classes=10, widths=[2, 2, 4, 4], dense=8, dropout=0.4)
    model = models.build("cnn2d_mel", arch)
    model.norm.set(np.linspace(-50, 0, 64), np.full(64, 10.0))
    path = tmp_path / "m.pt"
    models.save_checkpoint(path, model, "cnn2d_mel", arch, ["a"] * 10, {"seed": 1}, {"epochs": 2})
    loaded, ckpt = models.load_checkpoint(path)
    x = torch.randn(2, 64, 431) * 10 - 30
    model.eval()
    assert torch.equal(model(x), loaded(x))
    assert ckpt["params"] == {"seed": 1} and ckpt["classes"] == ["a"] * 10
    assert torch.equal(loaded.norm.mean, model.norm.mean)
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a crossrep checkpoint"):
        models.load_checkpoint(path)



def test_1d_checkpoint_loads_its_filterbank_without_designing_one(tmp_path):
    """Loading takes the frozen Gammatone bank from the checkpoint (same outputs), and neither
    loading it, importing any step module, nor an STFT spectrogram and its inverse imports
    scipy.signal or librosa (~1 s of a job's start-up): only the jobs that use them pay."""
    arch = dict(samples=110250, n_classes=10, gammatone_filters=4, widths=[2, 2, 2, 2], dense=8)
    model = models.build("cnn1d", arch).eval()
    path = tmp_path / "m.pt"
    models.save_checkpoint(path, model, "cnn1d", arch, ["a"] * 10, {}, {})
    loaded, _ = models.load_checkpoint(path)
    x = torch.randn(1, 110250)
    assert torch.equal(loaded.gammatone.weight, model.gammatone.weight) and torch.equal(model(x), loaded(x))
    code = (f"import sys, torch; from crossrep import models; models.load_checkpoint({str(path)!r}); "
            "import importlib, pkgutil, crossrep.steps as steps; "
            "[importlib.import_module(f'crossrep.steps.{m.name}') for m in pkgutil.iter_modules(steps.__path__)]; "
            "from crossrep.features import Spectrogram, SpectrogramConfig; s = Spectrogram(SpectrogramConfig()); "
            "from crossrep.reconstruction import istft; istft(s, s.stft(torch.randn(1, 4096)), 4096); "
            "print(sorted(m for m in ('scipy.signal', 'librosa') if m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "[]\n"


class Payload:
    """Anything but plain data: a pickle of this would run code on load."""


def test_checkpoints_never_unpickle_objects(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"kind": "cnn1d", "arch": {}, "classes": [], "state_dict": {}, "extra": Payload()}, path)
    with pytest.raises(ValueError, match="not a crossrep checkpoint"):
        models.load_checkpoint(path)


@pytest.mark.parametrize("kind", ["cnn2d", "cnn2d_first_bn", "cnn1d", "samplecnn", "resnet_mel"])
def test_inference_copy_folds_batchnorm_and_computes_the_same_function(kind):
    """BatchNorm folded into the convolution before it: the logits and the input gradient
    the attacks follow are the model's own up to float rounding; the original is untouched."""
    torch.manual_seed(0)
    if kind == "cnn1d":
        model, x = models.CNN1D(samples=33075, gammatone_filters=4, widths=(4, 4, 4, 4), dense=8), torch.randn(3, 33075)
    elif kind == "samplecnn":
        model, x = models.SampleCNN(samples=33075, widths=(4, 4, 8, 8, 8)), torch.randn(3, 33075)
    elif kind == "resnet_mel":
        model, x = models.ResNet2D(32, 40, 10, widths=(4, 8)), torch.randn(3, 32, 40) * 10
    else:
        model = models.CNN2D(32, 40, 10, widths=(4, 4, 8, 8), dense=8,
                             batchnorm="first_conv" if kind.endswith("first_bn") else "every_conv")
        x = torch.randn(3, 32, 40) * 10
    model.train()(x)  # running statistics that are not the identity
    model.eval()
    fused = models.inference_copy(model)
    # every one folded, the 1D CNN's first (after the Gammatone bank) into the bank
    assert not [m for m in fused.modules() if isinstance(m, torch.nn.BatchNorm1d | torch.nn.BatchNorm2d)]
    assert any(isinstance(m, torch.nn.BatchNorm2d | torch.nn.BatchNorm1d) for m in model.features)

    def grad(m):
        xi = x.clone().requires_grad_(True)
        out = m(xi)
        return out.detach(), torch.autograd.grad(out[:, 0].sum(), xi)[0]
    (y, g), (y_fused, g_fused) = grad(model), grad(fused)
    torch.testing.assert_close(y_fused, y, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(g_fused, g, rtol=1e-3, atol=1e-5 * g.abs().max().item())
    with pytest.raises(ValueError, match="eval mode"):
        models.inference_copy(model.train())
