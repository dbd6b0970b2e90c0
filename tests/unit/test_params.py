import copy

import pytest
import yaml

from conftest import REPO
from crossrep import params as P


def test_default_and_preset_params_are_valid(default_params):
    P.validate(default_params)
    P.load(REPO / "params.yaml")


def _broken(params, edit):
    p = copy.deepcopy(params)
    edit(p)
    return p


BAD = {
    "wrong type": (lambda p: p["train"].update(epochs="ten"), "train.epochs"),
    "unknown key": (lambda p: p["spectrogram"].update(n_mel=64), "n_mel"),
    "unknown section": (lambda p: p.update(atack={}), "atack"),
    "overlap >= 1": (lambda p: p["segment"].update(overlap=1.0), "segment.overlap"),
    "negative epsilon": (lambda p: p["attack"]["fgsm"].update(eps=-0.1), "attack.fgsm.eps"),
    "missing dataset folder": (lambda p: p["dataset"].update(kind="folder", root="no/such/folder"), "dataset.root"),
    "window longer than clip": (lambda p: p["dataset"].update(clip_seconds=4.0), "segment.window"),
    "fmax above Nyquist": (lambda p: p["spectrogram"].update(fmax=20000.0), "spectrogram.fmax"),
    "unknown attack": (lambda p: p["attack"].update(methods=["cw"]), "attack.methods"),
    "unknown label source": (lambda p: p["attack"].update(label=True), "attack.label"),
    "too few tracks for folds": (lambda p: p["dataset"]["synthetic"].update(tracks_per_genre=2), "tracks_per_genre"),
    "too few mel bands for the CNN": (lambda p: p["spectrogram"].update(n_mels=8), "spectrogram"),
    "missing section": (lambda p: p.pop("train"), "train"),
    "three widths": (lambda p: p["model"]["cnn2d"].update(widths=[4, 4, 8]), "model.cnn2d.widths"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_params_name_the_key(default_params, case):
    edit, key = BAD[case]
    with pytest.raises(P.ParamsError) as err:
        P.validate(_broken(default_params, edit))
    assert key in str(err.value)


def test_messages_state_allowed_values(default_params):
    with pytest.raises(P.ParamsError, match=r"attack\.methods\.0: 'cw' is not one of .*allowed: one of fgsm, bim, pgd"):
        P.validate(_broken(default_params, BAD["unknown attack"][0]))
    with pytest.raises(P.ParamsError, match=r"allowed keys: .*n_mels"):
        P.validate(_broken(default_params, BAD["unknown key"][0]))


def test_load_reports_unreadable_yaml(tmp_path):
    bad = tmp_path / "params.yaml"
    bad.write_text("seed: [unclosed\n")
    with pytest.raises(P.ParamsError, match="cannot read"):
        P.load(bad)
    bad.write_text(yaml.safe_dump([1, 2]))
    with pytest.raises(P.ParamsError, match="mapping"):
        P.load(bad)
