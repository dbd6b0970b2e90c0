"""Parameters as the workflow sees them: a bad key stops Snakemake before any job, and the
paper preset over params.yaml plans the paper's jobs."""
import copy
import re

import pandas as pd
import yaml
from snakemake.utils import update_config

from conftest import REPO, snakemake, tiny, write_workflow
from crossrep import dataset
from crossrep import params as P


def test_workflow_stops_before_any_job(tmp_path, default_params):
    p = tiny(default_params)
    p["segment"]["overlap"] = 1.0
    wf = write_workflow(tmp_path, p)
    proc = snakemake(wf, check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "segment.overlap" in out and "< 1" in out
    assert not (wf / "data").exists() and not (wf / "logs").exists()


def test_paper_preset_is_valid_and_plans_every_models_training(tmp_path, default_params):
    """presets/gtzan-paper.yaml over params.yaml: paper widths, and a dry run lists 5 models
    (the paper's 3, the 2 held-out targets) x 3 folds."""
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
    assert re.search(r"^train\s+15$", out, re.M), out[-2000:]
    assert "Training cnn2d_stft for test fold 3" in out
    merged = copy.deepcopy(default_params)
    update_config(merged, preset)  # Snakemake's own (recursive) merge of --configfile
    P.validate(merged)
    assert merged["model"]["cnn2d"]["widths"] == [32, 32, 64, 64] and merged["train"]["epochs"] == 100
