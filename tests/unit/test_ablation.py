"""The ablation of a preset's 2D CNN choices (crossrep.ablation): its steps, and a tiny real run."""
import torch
import yaml

from conftest import REPO
from crossrep import ablation


def test_steps_add_one_choice_at_a_time_and_end_at_the_preset(default_params):
    preset = yaml.safe_load((REPO / "presets/authors-code.yaml").read_text())
    steps = ablation.ablation_steps(default_params, preset)
    names = [name for name, _ in steps]
    assert names[0] == "params.yaml" and steps[0][1] == default_params
    assert names[1] == "+ stft_scale: real_offset_db, mel_scale: magnitude_db10_ref_max"
    assert names[2:] == ["+ spectrogram.top_db: 80", '+ model.cnn2d.pools: [[2, 2], [4, 2]]',
                         '+ model.cnn2d.activation: "leaky_relu"', '+ model.cnn2d.batchnorm: "first_conv"',
                         "+ model.cnn2d.conv_dropout: 0.05", "+ model.cnn2d.dropout: 0.8"]
    full = ablation.merged(default_params, preset)
    last = steps[-1][1]
    assert last["spectrogram"] == full["spectrogram"] and last["model"] == full["model"]
    assert last["attack"] == default_params["attack"]           # the preset's attack keys touch no clean model
    # each step differs from the one before in what it names only
    assert steps[3][1]["model"]["cnn2d"]["pools"] == [[2, 2], [4, 2]]
    assert steps[2][1]["model"] == default_params["model"]
    assert default_params["model"]["cnn2d"]["dropout"] == 0.4                # not changed in place


def test_tiny_ablation_trains_every_step_on_its_own_spectrograms(tiny_params, tmp_path):
    tiny_params["train"].update(epochs=1, patience=1)
    preset = {"spectrogram": {"top_db": 80}, "model": {"cnn2d": {"dropout": 0.8}}}
    table = ablation.run(tiny_params, preset, tmp_path, folds=[1], jobs=1)
    assert len(table) == 3 * 2 and set(table["rep"]) == {"stft", "mel"}
    assert table["accuracy"].between(0, 1).all() and (table["epochs"] == 1).all()
    assert len(list(tmp_path.glob("spectrograms-*"))) == 2      # the dropout step reuses top_db's
    ckpt = torch.load(tmp_path / "step2/cnn2d_mel-fold1.pt", weights_only=True)
    assert ckpt["params"]["model"]["cnn2d"]["dropout"] == 0.8 and ckpt["params"]["spectrogram"]["top_db"] == 80
    text = ablation.summary(table)
    assert text.count("\n| ") == 4 and "+ model.cnn2d.dropout: 0.8" in text and "one test fold" in text
    assert "±" not in text.split("\n")[2]                         # no spread from one fold
