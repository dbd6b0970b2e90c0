import copy
import re

import pandas as pd
import pytest
import yaml
from snakemake.utils import update_config

from conftest import REPO, snakemake, tiny, write_workflow
from crossrep import dataset
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


def test_workflow_stops_before_any_job(tmp_path, default_params):
    p = tiny(default_params)
    p["segment"]["overlap"] = 1.0
    wf = write_workflow(tmp_path, p)
    proc = snakemake(wf, check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "segment.overlap" in out and "< 1" in out
    assert not (wf / "data").exists() and not (wf / "logs").exists()


def test_load_reports_unreadable_yaml(tmp_path):
    bad = tmp_path / "params.yaml"
    bad.write_text("seed: [unclosed\n")
    with pytest.raises(P.ParamsError, match="cannot read"):
        P.load(bad)
    bad.write_text(yaml.safe_dump([1, 2]))
    with pytest.raises(P.ParamsError, match="mapping"):
        P.load(bad)


def test_paper_preset_is_valid_and_plans_nine_training_jobs(tmp_path, default_params):
    """presets/gtzan-paper.yaml over params.yaml: paper widths, and a dry run lists 3 models x 3 folds."""
    genres = tmp_path / "gtzan" / "genres"
    for genre in default_params["dataset"]["genres"]:
        (genres / genre).mkdir(parents=True)
    wf = write_workflow(tmp_path / "wf", default_params)
    preset = yaml.safe_load((REPO / "presets/gtzan-paper.yaml").read_text())
    preset["dataset"]["root"] = str(genres)
    (wf / "preset.yaml").write_text(yaml.safe_dump(preset))
    # a manifest of one clip per fold: the checkpoint that plans the per-part jobs has run
    pd.DataFrame([dict(track_id=f"blues/{k}.wav", source=f"blues/{k}.wav", genre="blues", label=0, fold=k, part=1,
                       offset=0, samples=661500, status="ok", reason="") for k in (1, 2, 3)],
                 columns=dataset.COLUMNS).to_csv((wf / "data").mkdir() or wf / "data" / "manifest.csv", index=False)
    proc = snakemake(wf, "-n", "--configfile", "preset.yaml")
    out = proc.stdout + proc.stderr
    assert re.search(r"^train\s+9$", out, re.M), out[-2000:]
    assert "Training cnn2d_stft for test fold 3" in out
    merged = copy.deepcopy(default_params)
    update_config(merged, preset)  # Snakemake's own (recursive) merge of --configfile
    P.validate(merged)
    assert merged["model"]["cnn2d"]["widths"] == [32, 32, 64, 64] and merged["train"]["epochs"] == 100
