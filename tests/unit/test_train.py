import copy

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import TINY_WINDOW, train_tiny
from crossrep import dataset, models, train
from crossrep.shard_rows import ShardRows


def test_validation_split_is_by_track():
    tracks = np.repeat([f"g{g}/t{t}" for g in range(3) for t in range(5)], 4)
    labels = np.repeat(np.arange(3), 20)
    held = train.validation_split(tracks, labels, 0.2, seed=3)
    assert not set(tracks[held]) & set(tracks[~held])
    assert [len(set(tracks[held & (labels == g)])) for g in range(3)] == [1, 1, 1]
    assert np.array_equal(held, train.validation_split(tracks, labels, 0.2, seed=3))


def test_short_training_lowers_the_loss_and_writes_a_standalone_checkpoint(tiny_data, tmp_path):
    ckpt, hist = train_tiny(tiny_data, "cnn2d_mel", tmp_path, epochs=6, patience=6)
    history = pd.read_csv(hist)
    assert list(history.columns) == train.HISTORY_COLUMNS and len(history) == 6
    assert history["loss"].iloc[-1] < history["loss"].iloc[0]
    model, c = models.load_checkpoint(ckpt)
    assert c["kind"] == "cnn2d_mel" and len(c["classes"]) == 10
    assert c["params"]["spectrogram"]["n_mels"] == 64 and c["params"]["segment"]["window"] == TINY_WINDOW
    assert c["history"]["epochs"] == 6 and 1 <= c["history"]["best_epoch"] <= 6
    assert not ckpt.with_suffix(".resume.pt").exists()
    root, _ = tiny_data
    with ShardRows([root / "mel/fold1.h5"], "spec") as rows:          # normalisation travels inside
        expected = rows.read(np.arange(len(rows))).mean(axis=(0, 2))
    assert model.norm.mean.flatten().shape == (64,) and model.norm.mean.abs().sum() > 0
    assert abs(float(model.norm.mean.mean()) - float(expected.mean())) < 10


@pytest.mark.parametrize("kind,dataset", [("samplecnn", "audio"), ("resnet_mel", "spec")])
def test_held_out_targets_train_per_fold_and_read_audio_like_the_others(tiny_data, tmp_path, kind, dataset):
    """The study's held-out targets train from the pipeline's own shards (the segments, the
    mel spectrograms), lower their loss, and their checkpoints read audio as the study
    scores it (``features.model_input``), giving one row of 10 logits per window."""
    from crossrep.features import model_input
    from crossrep.shard_rows import input_dataset

    assert input_dataset(kind) == dataset
    ckpt, hist = train_tiny(tiny_data, kind, tmp_path, epochs=4, patience=4)
    history = pd.read_csv(hist)
    assert history["loss"].iloc[-1] < history["loss"].iloc[0]
    model, c = models.load_checkpoint(ckpt)
    assert c["kind"] == kind and (c["params"]["spectrogram"] is None) == (dataset == "audio")
    root, _ = tiny_data
    with ShardRows([root / "segments/fold3.h5"], "audio") as rows:
        windows = rows.read(np.arange(3))
    with torch.no_grad():
        logits = model(model_input(c, windows))
    assert logits.shape == (3, 10) and torch.isfinite(logits).all()


def test_fused_adam_takes_the_reference_adam_steps():
    """train.adam (one fused pass) follows torch's reference Adam (a loop of elementwise
    ops) to float rounding over several steps, weight decay included; frozen weights stay out."""
    def trained(make_optimiser):
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(40, 30), torch.nn.ReLU(), torch.nn.Linear(30, 5))
        model[0].bias.requires_grad_(False)
        optimiser = make_optimiser(model)
        data = torch.Generator().manual_seed(1)
        for _ in range(10):
            x, y = torch.randn(16, 40, generator=data), torch.randint(0, 5, (16,), generator=data)
            loss = torch.nn.functional.cross_entropy(model(x), y)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        return model, optimiser

    fused, optimiser = trained(lambda m: train.adam(m, 1e-2, weight_decay=1e-3))
    reference, _ = trained(lambda m: torch.optim.Adam([p for p in m.parameters() if p.requires_grad], lr=1e-2,
                                                      weight_decay=1e-3, foreach=False))
    assert optimiser.defaults["fused"] and len(optimiser.param_groups[0]["params"]) == 3
    torch.manual_seed(0)
    start = torch.nn.Linear(40, 30)                                  # the first layer's initial weights
    assert torch.equal(fused[0].bias, start.bias)                     # frozen: untouched
    assert not torch.equal(fused[0].weight, start.weight)             # trained: moved
    for a, b in zip(fused.parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_training_is_deterministic(tiny_data, tmp_path):
    a, ha = train_tiny(tiny_data, "cnn1d", tmp_path / "a", epochs=2)
    b, hb = train_tiny(tiny_data, "cnn1d", tmp_path / "b", epochs=2)
    ha, hb = pd.read_csv(ha), pd.read_csv(hb)
    pd.testing.assert_frame_equal(ha.drop(columns="seconds"), hb.drop(columns="seconds"))
    sa = torch.load(a, weights_only=True)["state_dict"]
    sb = torch.load(b, weights_only=True)["state_dict"]
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_resume_after_a_crash_gives_the_same_model(tiny_data, tmp_path, monkeypatch):
    full, _ = train_tiny(tiny_data, "cnn2d_mel", tmp_path / "full", epochs=3, patience=3)
    real_epoch = train._train_epoch

    def crash_in_epoch_3(*args):
        if args[-2] == 3:                       # (…, epoch, device)
            raise KeyboardInterrupt("killed in epoch 3")
        return real_epoch(*args)

    monkeypatch.setattr(train, "_train_epoch", crash_in_epoch_3)
    try:
        train_tiny(tiny_data, "cnn2d_mel", tmp_path / "part", epochs=3, patience=3)
    except KeyboardInterrupt:
        pass
    ckpt = tmp_path / "part" / "cnn2d_mel.pt"
    assert not ckpt.exists() and ckpt.with_suffix(".resume.pt").exists()
    monkeypatch.setattr(train, "_train_epoch", real_epoch)
    resumed, hist = train_tiny(tiny_data, "cnn2d_mel", tmp_path / "part", epochs=3, patience=3)
    assert len(pd.read_csv(hist)) == 3
    sa = torch.load(full, weights_only=True)["state_dict"]
    sb = torch.load(resumed, weights_only=True)["state_dict"]
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_resume_state_from_other_params_is_ignored(tiny_data, tmp_path):
    ckpt, _ = train_tiny(tiny_data, "cnn2d_mel", tmp_path, epochs=1)
    stale = ckpt.with_suffix(".resume.pt")
    torch.save({"fingerprint": "other params", "epoch": 99}, stale)
    ckpt.unlink()
    _, hist = train_tiny(tiny_data, "cnn2d_mel", tmp_path, epochs=1)
    assert len(pd.read_csv(hist)) == 1 and not stale.exists()


def test_another_seed_gives_other_folds_and_weights(tiny_data, tmp_path):
    root, p = tiny_data
    manifest = pd.read_csv(root / "manifest.csv")
    other = manifest.copy()
    dataset.assign_folds(other, p["dataset"]["genres"], 3, seed=p["seed"] + 1)
    assert not manifest.fold.equals(other.fold)
    a, _ = train_tiny(tiny_data, "cnn2d_mel", tmp_path / "a", epochs=1)
    b, _ = train_tiny(tiny_data, "cnn2d_mel", tmp_path / "b", epochs=1)
    sa = torch.load(a, weights_only=True)["state_dict"]
    sb = torch.load(b, weights_only=True)["state_dict"]
    assert all(torch.equal(sa[k], sb[k]) for k in sa)                 # same seed: same weights
    p2 = copy.deepcopy(p)
    p2["seed"] += 1
    c, _ = train_tiny((root, p2), "cnn2d_mel", tmp_path / "c", epochs=1)
    sc = torch.load(c, weights_only=True)["state_dict"]
    assert not torch.equal(sa["classifier.1.weight"], sc["classifier.1.weight"])
