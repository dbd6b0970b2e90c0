import numpy as np
import pandas as pd
import pytest

from crossrep import metrics
from crossrep.shards import write_csv


def test_vote_and_sum_rule_with_ties():
    # track a: votes 1,1,2 -> vote 1; sums favour 2 -> sum 2
    # track b: votes tie 0 vs 3 (one each); summed probability favours 3 -> vote 3
    probs = np.array([
        [0.0, 0.4, 0.35, 0.25], [0.0, 0.4, 0.35, 0.25], [0.0, 0.0, 1.0, 0.0],
        [0.5, 0.0, 0.0, 0.5 - 1e-3], [0.3, 0.0, 0.0, 0.7],
    ])
    tracks = ["a", "a", "a", "b", "b"]
    d = metrics.track_decisions(probs, tracks)
    assert d.loc["a", "vote"] == 1 and d.loc["a", "sum"] == 2
    assert d.loc["b", "vote"] == 3 and d.loc["b", "sum"] == 3
    acc = metrics.accuracies(probs, np.array([1, 1, 1, 0, 0]), tracks)
    assert acc == {"segments": pytest.approx(3 / 5), "vote": 0.5, "sum": 0.0}


def test_exact_tie_goes_to_lower_class():
    d = metrics.track_decisions(np.array([[0.5, 0.5], [0.5, 0.5]]), ["t", "t"])
    assert d.loc["t", "vote"] == 0 and d.loc["t", "sum"] == 0


def test_summarise_uses_sample_sd():
    s = metrics.summarise({1: 70.0, 2: 80.0, 3: 90.0})
    assert s["mean"] == 80.0 and s["sd"] == pytest.approx(10.0) and s["fold2"] == 80.0


def test_true_snr_on_hand_made_signals():
    t = np.arange(22050) / 22050
    x = np.sin(2 * np.pi * 440 * t)
    noise = 0.01 * np.sin(2 * np.pi * 1234 * t)                    # power ratio 1e4 -> 40 dB
    assert metrics.snr_db(x, x + noise) == pytest.approx(40.0, abs=0.01)
    assert metrics.snr_db(x[None], x[None]).item() == np.inf
    assert np.isnan(metrics.snr_db(np.zeros(100), np.ones(100)))


def test_level_ratio_reproduces_the_authors_value_and_differs_from_snr():
    x = np.sin(2 * np.pi * 440 * np.arange(22050) / 22050)
    # rms(adv) = 0.9 rms(x): level ratio 20 log10(1 / 0.1) = 20 dB whatever the waveform
    rng = np.random.default_rng(0)
    noise = rng.standard_normal(x.shape)
    adv = noise / np.sqrt(np.mean(noise ** 2)) * 0.9 * np.sqrt(np.mean(x ** 2))
    assert metrics.level_ratio_db(x, adv) == pytest.approx(20.0, abs=1e-6)
    assert metrics.snr_db(x, adv) < 0                               # a true SNR sees pure noise
    # the paper's segment 838_20 FGSM figure: 18.35 dB <=> |1 - rms_adv/rms_x| = 10**(-18.35/20)
    ratio = 1 + 10 ** (-18.35 / 20)
    assert metrics.level_ratio_db(x, ratio * x) == pytest.approx(18.35, abs=1e-9)
    assert np.isnan(metrics.level_ratio_db(np.zeros(10), np.ones(10)))


def test_snr_summary_counts_silent_and_identical():
    s = metrics.snr_summary([10.0, 20.0, np.nan, np.inf])
    assert s == {"mean": 15.0, "sd": pytest.approx(7.0710678), "n": 2, "silent_reference": 1, "identical": 1}


def test_table_vii_none_row_figures_on_a_hand_made_pair(tmp_path):
    """The None row: the clean rebuild against itself is infinite, against the original it has
    the authors' level ratio and a true SNR, computed by the transfer rule's own SNR function."""
    t = np.arange(22050) / 22050
    original = np.sin(2 * np.pi * 440 * t)
    orthogonal = np.sin(2 * np.pi * 660 * t)                # whole periods: orthogonal to the 440 Hz tone
    rebuild = original + np.sqrt(0.21) * orthogonal          # rms(rebuild) = 1.1 rms(original)
    snrs = metrics.rebuild_snrs(original[None], rebuild[None], rebuild[None])
    row = {name: values[0] for name, values in snrs.items()}
    assert np.isinf(row["true_snr_db"]) and np.isinf(row["level_ratio_db"])          # identical signals
    assert row["level_ratio_vs_original_db"] == pytest.approx(20.0, abs=1e-3)         # 20 log10(1 / 0.1)
    assert row["snr_vs_original_db"] == pytest.approx(10 * np.log10(1 / 0.21), abs=1e-3)  # 6.78 dB


def test_write_csv_writes_what_pandas_writes_and_refuses_ragged_columns(tmp_path):
    columns = dict(track_id=["a,b", 'c"d', "e"], segment=list(np.array([0, 1, 2], np.int16)),
                   true_snr_db=list(np.array([0.1, 1 / 3, np.nan])), visqol=[float("nan"), 4.73, 1e-20],
                   eps=list(np.array([0.1, np.nan, 3.0], np.float32)), fooled=[True, False, True])
    write_csv(tmp_path / "ours.csv", columns)
    pd.DataFrame(columns).to_csv(tmp_path / "pandas.csv", index=False)
    assert (tmp_path / "ours.csv").read_bytes() == (tmp_path / "pandas.csv").read_bytes()
    back = pd.read_csv(tmp_path / "ours.csv")
    assert back["track_id"].tolist() == columns["track_id"] and back["visqol"].isna().tolist() == [True, False, False]
    with pytest.raises(ValueError, match="unequal length"):
        write_csv(tmp_path / "ragged.csv", dict(a=[1, 2], b=[1]))
    assert not (tmp_path / "ragged.csv").exists()


def test_headline_is_a_terminal_sized_view_of_the_committed_details():
    """The DVC metrics: one small file per row, the same few columns, <= 80 values, each
    read off the full tree (here the committed run's, with its two held-out targets)."""
    import json

    from conftest import REPO
    from crossrep import reports

    details = json.loads((REPO / "reports/metrics_details.json").read_text())
    rows = reports.headline(details, {"stft": ["cnn2d_stft"], "mel": ["cnn2d_mel"], "cnn1d": ["cnn1d"]})
    assert sum(len(row) for row in rows.values()) <= 80
    assert {column for row in rows.values() for column in row} == {"acc", "snr_db", "excess_ub", "beats"}
    assert rows["clean_mel"]["acc"] == details["clean"]["cnn2d_mel"]["segments"]["mean"]
    assert rows["whitebox_stft_bim"]["snr_db"] == details["snr"]["stft"]["bim"]["true_snr_db"]["mean"]
    study = {name: row for name, row in rows.items() if "_to_" in name}
    assert sorted(study) == [f"{source}_to_{target}" for source, targets in (
        ("1d", ("mel", "resmel", "sample", "stft")), ("mel_gl", ("1d", "resmel", "sample", "stft")),
        ("mel_oracle", ("1d", "resmel", "sample", "stft")), ("stft", ("1d", "mel", "resmel", "sample")))
        for target in targets]                                                    # off the diagonal only
    verdict = details["study"]["verdict"]["stft/clean_phase"]["cnn1d"]
    assert study["stft_to_1d"]["excess_ub"] == max(c["upper_bound"] for by in verdict.values() for c in by.values())
    assert study["stft_to_1d"]["beats"] == sum(c["beats_snr_db"] is not None for by in verdict.values()
                                               for c in by.values())
    assert rows == {p.stem: json.loads(p.read_text()) for p in (REPO / "reports/headline").glob("*.json")}
