import copy

import pytest
import yaml

from conftest import REPO
from crossrep import params as P


@pytest.mark.parametrize("preset", sorted(p.name for p in (REPO / "presets").glob("*.yaml")))
def test_default_and_preset_params_are_valid(default_params, preset, tmp_path):
    """params.yaml, and each preset laid over it as Snakemake's --configfile lays it (a folder
    dataset's root made where it points)."""
    from snakemake.utils import update_config

    P.validate(default_params)
    P.load(REPO / "params.yaml")
    with_preset = copy.deepcopy(default_params)
    update_config(with_preset, yaml.safe_load((REPO / "presets" / preset).read_text()))
    (tmp_path / with_preset["dataset"]["root"]).mkdir(parents=True)
    P.validate(with_preset, base_dir=tmp_path)


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
    "waveform source without models": (lambda p: p["study"]["sources"].update(wave={"eps": [0.1, 0.2]}),
                                       "study.sources.wave"),
    "spectrogram source with models": (lambda p: p["study"]["sources"]["stft"].update(models=["cnn1d"]),
                                       "study.sources.stft.models"),
    "held-out target attacked": (lambda p: p["study"]["sources"].update(wave={"models": ["samplecnn"],
                                                                             "eps": [0.1, 0.2]}),
                                 "study.sources.wave"),
    "round trip on a waveform source": (lambda p: p["study"]["sources"]["cnn1d"].update(round_trip=True),
                                        "study.sources.cnn1d.round_trip"),
    "source stft in the mel spectrogram": (lambda p: p["study"]["sources"]["stft"].update(spectrogram="mel"),
                                           "study.sources.stft.spectrogram"),
    "unknown source model": (lambda p: p["study"]["sources"].update(wave={"models": ["crnn"], "eps": [0.1, 0.2]}),
                             "study.sources.wave.models"),
    "unknown ISA": (lambda p: p["compute"].update(cpu_isa="neon"), "compute.cpu_isa"),
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
