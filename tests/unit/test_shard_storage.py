"""How shards store rows: compressed (lossless), and an attack as its float16 perturbation,
read back as exactly the x_adv the attack scored."""
import h5py
import numpy as np
import pytest
import torch

from conftest import train_tiny
from crossrep import models
from crossrep.attacks import AttackConfig, attack_batch
from crossrep.shards import ShardError, open_shard, read_spectrograms, read_strings, row_keys, write_shard
from crossrep.steps import adversarial


def stored_fraction(h5, name):
    return h5[name].id.get_storage_size() / h5[name][...].nbytes


def test_compressed_shard_reads_back_exact_rows(tiny_data, tmp_path):
    """The segments step's shard (real synthetic audio) and a copy of its rows through
    ShardWriter: bitwise the same rows, stored compressed in far fewer bytes."""
    root, _ = tiny_data
    with open_shard(root / "segments/fold1.h5", "audio") as seg:
        audio, labels = seg["audio"][...], seg["label"][...]
        assert seg["audio"].compression == "gzip" and seg["audio"].shuffle
        assert stored_fraction(seg, "audio") < 0.8
    with write_shard(tmp_path / "copy.h5") as shard:
        shard.append(audio=audio[:7], label=labels[:7], track_id=[f"t{i}" for i in range(7)])
        shard.append(audio=audio[7:], label=labels[7:], track_id=[f"t{i}" for i in range(7, len(labels))])
    with open_shard(tmp_path / "copy.h5", "audio") as h5:
        assert np.array_equal(h5["audio"][...], audio) and h5["audio"].dtype == np.float32
        assert np.array_equal(h5["label"][...], labels) and read_strings(h5["track_id"])[8] == "t8"


@pytest.mark.parametrize("method", ["fgsm", "bim"])
def test_adversarial_shard_gives_back_the_x_adv_its_attack_scored(tiny_data, tmp_path, method):
    root, p = tiny_data
    checkpoint, _ = train_tiny(tiny_data, "cnn2d_stft", tmp_path, epochs=1)
    clean_path, out = root / "stft/fold3.h5", tmp_path / f"{method}.h5"
    adversarial.run(checkpoint=checkpoint, spectrograms=clean_path, out=out, method=method, params=p)
    model, ckpt = models.load_checkpoint(checkpoint, "cpu")
    with open_shard(clean_path, "spec") as clean, open_shard(out, "perturbation", "probs") as adv:
        x_adv = read_spectrograms(adv, slice(None), clean)
        x = torch.from_numpy(clean["spec"][...])
        keys = row_keys(read_strings(clean["track_id"]), clean["segment"][...])
        expected, perturbation, _, probs = attack_batch(
            model, x, AttackConfig.from_params(method, p["attack"]), keys=keys, seed=p["seed"],
            n_classes=len(ckpt["classes"]), label_source=p["attack"]["label"],
            truth=torch.from_numpy(clean["label"][...].astype(np.int64)))
        assert np.array_equal(x_adv, expected.numpy())           # bitwise: what later steps rebuild
        assert np.array_equal(adv["perturbation"][...], perturbation.numpy())
        assert np.allclose(adv["probs"][...], probs.numpy(), atol=1e-6)
        assert adv["linf"][...].max() <= p["attack"][method]["eps"]
        # sign steps land on a few float16 values: stored in under a fifth of the float32
        # spectrogram's bytes (x_adv itself compresses to 0.79 of them)
        assert len(np.unique(adv["perturbation"][...])) <= (3 if method == "fgsm" else 64)
        assert adv["perturbation"].id.get_storage_size() < 0.2 * clean["spec"][...].nbytes
        with pytest.raises(ShardError, match="read it with the clean spectrogram shard"):
            read_spectrograms(adv, slice(None))
    with h5py.File(out) as h5:
        assert "spec" not in h5
