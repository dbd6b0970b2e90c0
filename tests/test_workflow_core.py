"""The Snakemake workflow for the data steps on a tiny synthetic dataset, run for real."""
import pandas as pd
import pytest

from conftest import snakemake, tiny, write_workflow
from crossrep.shards import open_shard


@pytest.fixture(scope="module")
def built(tmp_path_factory, default_params):
    wf = write_workflow(tmp_path_factory.mktemp("wf"), tiny(default_params))
    snakemake(wf, "all_spectrograms")
    return wf


def test_builds_manifest_segments_and_spectrograms(built):
    manifest = pd.read_csv(built / "data" / "manifest.csv")
    assert len(manifest) == 30 and (manifest.status == "ok").all()
    assert manifest.groupby("fold").size().tolist() == [10, 10, 10]
    assert (manifest.groupby(["genre", "fold"]).size() == 1).all()
    for fold in (1, 2, 3):
        with open_shard(built / f"data/segments/fold{fold}-part1.h5", "audio") as h5:   # one part per fold
            assert h5["audio"].shape == (20, 110250)          # 10 clips x 2 segments of 5 s
            assert h5["audio"].chunks == (1, 110250)
            assert h5.attrs["dropped_silent"] == 0
        for rep, bins in (("stft", 257), ("mel", 64)):
            with open_shard(built / f"data/spectrograms/{rep}/fold{fold}-part1.h5", "spec") as h5:
                assert h5["spec"].shape == (20, bins, 431)
    assert (built / "logs/segments/fold1-part1.log").read_text().count("segments from 10 clips") == 1


def test_second_run_does_nothing(built):
    proc = snakemake(built, "all_spectrograms")
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_changing_n_mels_reruns_only_mel_shards(built):
    outputs = sorted((built / "data").rglob("*.h5")) + [built / "data/manifest.csv"]
    before = {p: p.stat().st_mtime_ns for p in outputs}
    params = (built / "params.yaml").read_text().replace("n_mels: 64", "n_mels: 48")
    (built / "params.yaml").write_text(params)
    snakemake(built, "all_spectrograms")
    changed = sorted(p.relative_to(built).as_posix() for p in outputs if p.stat().st_mtime_ns != before[p])
    assert changed == [f"data/spectrograms/mel/fold{k}-part1.h5" for k in (1, 2, 3)]
    with open_shard(built / "data/spectrograms/mel/fold1-part1.h5", "spec") as h5:
        assert h5["spec"].shape[1] == 48
