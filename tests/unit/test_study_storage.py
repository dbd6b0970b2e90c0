"""What the study keeps on disk (study.keep_audio): scoring the shipped clips while their
audio is in memory gives the rows rule study_score gives from the kept audio, and keeps the
listening page's clips' audio only (the first study.listening_clips of fold 1's first part)."""
import copy

import numpy as np
import pandas as pd
import pytest

from conftest import train_tiny
from crossrep.shards import open_shard, read_strings
from crossrep.steps import study_clips, study_perturb, study_score


def _columns(path) -> dict:
    with open_shard(path) as h5:
        return {name: (read_strings(h5[name]) if h5[name].dtype.kind in "OS" else h5[name][...]) for name in h5}


@pytest.fixture(scope="module")
def trained(tiny_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("models")
    return {kind: train_tiny(tiny_data, kind, out, epochs=1, patience=1)[0] for kind in ("cnn2d_stft", "samplecnn")}


def test_scoring_in_memory_gives_study_scores_rows_and_keeps_the_listening_clips(tiny_data, trained, tmp_path):
    root, p = tiny_data
    params = copy.deepcopy(p)
    params["study"].update(clips_per_genre=1, listening_clips=2, noise_draws=1, visqol_clips=0,
                           sources={"stft": {"eps": [1.0, 10.0]}})
    params["attack"]["methods"] = ["fgsm", "bim"]
    clips = tmp_path / "clips.h5"
    study_clips.run(manifest=root / "manifest.csv", root=root / "raw", out=clips, fold=1, params=params)
    common = dict(clips=clips, checkpoints=[trained["cnn2d_stft"]], source="stft")

    kept = copy.deepcopy(params)
    kept["study"]["keep_audio"] = "all"
    study_perturb.run(audio_out=tmp_path / "all.h5", quality_out=tmp_path / "all.csv", params=kept, **common)
    study_score.run(clips=clips, rebuilt=tmp_path / "all.h5", checkpoints=trained, out=tmp_path / "scores_all.h5",
                    params=kept)

    listening = copy.deepcopy(params)
    listening["study"]["keep_audio"] = "listening"
    study_perturb.run(audio_out=tmp_path / "listening.h5", quality_out=tmp_path / "listening.csv", params=listening,
                      targets=trained, scores_out=tmp_path / "scores_listening.h5", **common)

    scores_all, scores_listening = _columns(tmp_path / "scores_all.h5"), _columns(tmp_path / "scores_listening.h5")
    assert scores_all.keys() == scores_listening.keys() and len(scores_all["segment"]) > 100
    for name, column in scores_all.items():   # same rows in the same order; softmax up to batching's rounding
        if name.startswith("probs_"):
            np.testing.assert_allclose(scores_listening[name], column, atol=1e-5)
            assert (scores_listening[name].argmax(1) == column.argmax(1)).all()
        else:
            np.testing.assert_array_equal(scores_listening[name], column)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "listening.csv"), pd.read_csv(tmp_path / "all.csv"))

    every, heard = _columns(tmp_path / "all.h5"), _columns(tmp_path / "listening.h5")
    first_two = list(dict.fromkeys(every["track_id"]))[:2]
    assert set(heard["track_id"]) == set(first_two) and len(set(every["track_id"])) == 10
    rows = np.isin(every["track_id"], first_two)
    np.testing.assert_array_equal(heard["audio"], every["audio"][rows])   # the same 16-bit samples
    assert (tmp_path / "listening.h5").stat().st_size < (tmp_path / "all.h5").stat().st_size / 3
