"""The whole pipeline on a tiny synthetic configuration, run for real through Snakemake."""
import json
import re
from collections import Counter

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from conftest import TINY_FRAMES, TINY_WINDOW, dry_run, snakemake
from crossrep.shards import open_shard
from tools.jobstats import job_stats


@pytest.fixture
def run(pipeline_run):
    return pipeline_run


def test_manifest_segments_and_spectrograms(run):
    manifest = pd.read_csv(run / "data" / "manifest.csv")
    assert len(manifest) == 20 and (manifest.status == "ok").all()
    assert manifest.groupby("fold").size().tolist() == [10, 10]
    assert (manifest.groupby(["genre", "fold"]).size() == 1).all()
    for fold in (1, 2):
        with open_shard(run / f"data/segments/fold{fold}-part1.h5", "audio") as h5:   # one part per fold
            assert h5["audio"].shape == (20, TINY_WINDOW)          # 10 clips x 2 segments
            assert h5["audio"].chunks == (1, TINY_WINDOW)
            assert h5.attrs["dropped_silent"] == 0
        for rep, bins in (("stft", 257), ("mel", 64)):
            with open_shard(run / f"data/spectrograms/{rep}/fold{fold}-part1.h5", "spec") as h5:
                assert h5["spec"].shape == (20, bins, TINY_FRAMES)
    assert (run / "logs/segments/fold1-part1.log").read_text().count("segments from 10 clips") == 1


def test_jobs_run_the_pinned_kernels(run):
    """compute.cpu_isa (avx2 by default) reaches every job: training records the kernels it ran
    on, and the job logs say the pin took effect (machines without AVX2 excepted)."""
    import torch

    from crossrep import runtime

    if not runtime.cpu_isa_environment("avx2") or not torch.cpu._is_avx2_supported():
        pytest.skip("not an x86-64 machine with AVX2")
    ckpt = torch.load(run / "models/cnn2d_stft/fold1.pt", weights_only=True)
    assert ckpt["params"]["cpu_kernels"] == "AVX2"
    assert "CPU kernels pinned to avx2" in (run / "logs/train/cnn2d_stft/fold1.log").read_text()


def test_tables_and_metrics(run):
    metrics = json.loads((run / "reports/metrics_details.json").read_text())
    assert set(metrics) >= {"clean", "attack", "transfer", "snr", "training", "data", "eps_sweep"}
    for model in ("cnn2d_stft", "cnn2d_mel", "cnn1d", "cnn1d_on_stft_rebuild"):
        for agg in ("segments", "vote", "sum"):
            cell = metrics["clean"][model][agg]
            assert 0 <= cell["mean"] <= 100 and {"fold1", "fold2", "sd"} <= set(cell)
    assert set(metrics["attack"]["stft"]) == {"fgsm", "bim"}
    assert set(metrics["transfer"]["mel"]) == {"clean", "fgsm", "bim"}
    snr = metrics["snr"]["stft"]
    assert snr["clean"]["snr_vs_original_db"]["mean"] > 90            # lossless STFT rebuild
    assert snr["bim"]["true_snr_db"]["n"] == 40 and snr["bim"]["true_snr_db"]["silent_reference"] == 0
    assert metrics["data"]["segments"] == 40
    # Table IV: the 1D CNN cannot tell the clean STFT rebuild from the original
    assert metrics["clean"]["cnn1d"]["segments"] == pytest.approx(metrics["clean"]["cnn1d_on_stft_rebuild"]["segments"],
                                                                 abs=5.0)
    for n in (3, 4, 5, 6, 7):
        md = (run / f"reports/tables/table{n}.md").read_text()
        assert md.startswith(f"**Table {'III IV V VI VII'.split()[n - 3]}:") and "±" in md
        assert len(pd.read_csv(run / f"reports/tables/table{n}.csv")) >= 2
    t7 = pd.read_csv(run / "reports/tables/table7.csv", keep_default_na=False).set_index(["Input", "Attack"])
    none_row = t7.loc[("Audio Reconstructed (STFT)", "None")]
    assert none_row["true SNR vs clean rebuild (eq. 3)"] == "∞ (identical)"
    assert none_row["authors' level ratio vs clean rebuild (not an SNR)"] == "∞ (identical)"
    # the paper's None row: the clean rebuild's level ratio against the original, a finite figure
    assert none_row["level_ratio_vs_original_db_mean"] > 60 and "±" in none_row["authors' level ratio vs original " \
                                                                                "audio (their None row)"]
    assert "None</td>" in (run / "reports/index.html").read_text()   # not read back as "nan"


def test_shards_and_figures(run):
    with open_shard(run / "data/adversarial/stft/bim/fold1-part1.h5", "perturbation", "probs", "linf") as h5:
        assert h5["perturbation"].shape == (20, 257, TINY_FRAMES) and h5["probs"].shape == (20, 10)
        assert h5["linf"][...].max() <= 0.3 + 1e-5 and h5.attrs["iterations"] == 10
    assert not (run / "data/reconstructed").exists()     # rebuilt audio is scored in memory, never stored
    figures = run / "reports/figures"
    for name in ("training_curves", "fig4_stft_fgsm", "fig4_mel_bim", "accuracy_vs_eps", "snr_distributions"):
        assert (figures / f"{name}.png").stat().st_size > 5000
    assert len(list((figures / "confusion").glob("*.png"))) == 6
    assert (run / "models/cnn1d/fold2.history.csv").exists()


def test_listening_samples_are_16bit_wavs(run):
    wavs = sorted((run / "reports/audio").rglob("*.wav"))
    assert len(wavs) == 2 * 10 * 7                        # folds x genres x (original + 2 reps x 3 conditions)
    info = sf.info(wavs[0])
    assert (info.samplerate, info.subtype, info.channels, info.frames) == (22050, "PCM_16", 1, TINY_WINDOW)


def test_page_links_are_relative_and_exist(run):
    page = (run / "reports/index.html").read_text()
    sources = re.findall(r'(?:src)="([^"]+)"', page)
    assert len(sources) >= 140
    for src in sources:
        assert not src.startswith(("/", "http", "file:")) and ".." not in src
        assert (run / "reports" / src).exists(), src


def test_second_run_is_a_no_op(run):
    proc = snakemake(run)
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_plot_series_for_dvc(run):
    metrics = json.loads((run / "reports/metrics_details.json").read_text())
    plots = run / "reports/plots"
    for rep in ("stft", "mel"):
        for method in ("fgsm", "bim"):
            curve = pd.read_csv(plots / f"accuracy_vs_eps/{rep}_{method}.csv")
            assert list(curve["eps"]) == [0.0, 0.3, 3.0]
            sweep = metrics["eps_sweep"][rep][method]
            expected = [sweep[f"eps_{e:g}"] for e in curve["eps"]]
            assert 100 * curve["vote"].to_numpy() == pytest.approx(expected, abs=0.005)  # the metrics: 0.01
    histories = sorted(p.name for p in (plots / "training").glob("*.csv"))
    assert len(histories) == 6
    history = pd.read_csv(plots / "training/cnn2d_mel_fold1.csv")
    assert list(history.columns) == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy"]  # no wall time


def test_snakemake_report_has_tables_figures_and_runtimes(run, tmp_path):
    html = tmp_path / "report.html"
    snakemake(run, "--report", str(html))
    text = html.read_text()
    results = json.loads(re.search(r"var results = (\{.*?\});\n", text, re.S).group(1))
    assert {f"reports/tables/table{n}.csv" for n in (3, 4, 5, 6, 7)} <= set(results)
    assert {"reports/metrics_details.json", "reports/figures/fig4_stft_bim.png", "reports/figures/training_curves.png",
            "reports/figures/accuracy_vs_eps.png", "reports/figures/confusion/cnn1d_fold1.png",
            "reports/tables/study_matched.csv", "reports/figures/study_accuracy_vs_snr.png"} <= set(results)
    runtimes = json.loads(re.search(r"var runtimes_spec = (\{.*?\});\n", text, re.S).group(1))["data"]["values"]
    jobs = Counter(job["rule"] for job in runtimes)
    assert jobs["train"] == 10 and jobs["adversarial"] == 8 and jobs["study_perturb"] == 8 and jobs["report"] == 1
    assert all(job["runtime"] > 0 for job in runtimes)


def test_spectrogram_change_reruns_only_that_representation(run):
    """After n_mels changes on a finished run, Snakemake plans exactly the mel branch: mel
    shards, the mel 2D CNN and the held-out mel ResNet, the 2D CNN's attacks, rebuilds and their
    transfer, the study's sources that attack it (mel, and the waveform ensemble wave_2d; no
    STFT, no 1D CNN job), and the study's scoring of every source (both are its targets)."""
    out = dry_run(run, {"spectrogram": {"n_mels": 48}})
    assert job_stats(out) == {"spectrograms": 2, "train": 4, "predict_clean": 2, "adversarial": 4,
                              "eps_sweep": 4, "transfer": 6, "study_perturb": 4,
                              "study_score": 8, "listening": 2, "report": 1, "all": 1}
    jobs = re.findall(r"^Job \d+: (.+)$", out, re.M)                    # the rules' messages
    assert len(jobs) == 37
    assert {"Training cnn2d_mel for test fold 1", "Training resnet_mel for test fold 2"} <= set(jobs)
    assert not [job for job in jobs if ("stft" in job or "cnn1d" in job) and "every model" not in job]


def test_transfer_oriented_methods_plan_only_their_own_jobs(run):
    """Adding MI-FGSM and DI-MI-FGSM to a finished run plans their attacks on both 2D CNNs and
    every study source (their names parse as wildcards), and reruns no training and no
    existing attack."""
    out = dry_run(run, {"attack": {"methods": ["fgsm", "bim", "mi_fgsm", "di_mi_fgsm"]}})
    stats = job_stats(out)
    assert stats["adversarial"] == 8 and stats["study_perturb"] == 8 and "train" not in stats
    planned = set(re.findall(r"Missing output files: data/adversarial/(\w+)/(\w+)/fold\d-part1\.h5", out))
    assert planned == {(rep, method) for rep in ("stft", "mel") for method in ("mi_fgsm", "di_mi_fgsm")}


def test_transfer_study_outputs(run):
    """The study on the tiny run: every source x target x perturbation x eps, shipped as
    16-bit audio; the verdict of every attack against its three controls with paired
    intervals, the bounds, the matched-SNR table, the figures, metrics and plot series,
    the page's section."""
    table = pd.read_csv(run / "reports/tables/study_transfer.csv")
    pairs = set(zip(table["source"] + "/" + table["path"], table["target"], strict=True))
    assert len(pairs) == 5 * 5                                 # 5 source paths x 5 targets (2 held out)
    assert set(table["kind"]) == {"fgsm", "bim", "noise", "fgsm_null", "bim_null", "fgsm_init", "bim_init"}
    assert set(table["eps"]) == {0.0, 1.0, 10.0, 0.1}
    zero = table[table["eps"] == 0]
    assert (zero["fooling_rate_mean"].fillna(0) == 0).all()    # a zero budget fools nobody
    stft = table[(table["source"] == "stft") & (table["eps"] > 0)]
    assert (stft["true_snr_db_median"] < 60).all() and stft["true_snr_db_median"].notna().all()
    # the spectrum-matched null keeps its attack's true SNR, clip for clip, where the 16-bit
    # file clips neither (eps 10 dB clips thousands of samples: both SNRs are then stated)
    quality = pd.concat(pd.read_csv(p) for p in (run / "data/study/quality").rglob("*.csv"))
    keys = ["source", "path", "fold", "eps", "track_id"]
    attack = quality[quality["kind"] == "bim"].set_index(keys)
    null = quality[quality["kind"] == "bim_null"].set_index(keys).loc[attack.index]
    unclipped = (attack["clipped_samples"] == 0) & (null["clipped_samples"] == 0)
    assert unclipped.sum() >= len(attack) // 3
    assert np.allclose(attack["true_snr_db"][unclipped], null["true_snr_db"][unclipped], atol=0.01)
    assert quality.loc[quality["eps"] == 10, "clipped_samples"].sum() > 0
    assert quality["clipped_samples"].ge(0).all() and (quality["draw"].isin([0, 1])).all()
    with open_shard(next((run / "data/study/audio/stft").glob("*.h5")), "audio", "draw") as h5:
        assert h5["audio"].dtype == np.int16                   # what is scored is what is shipped
    matched = (run / "reports/tables/study_matched.md").read_text()
    assert "20 dB: fooled % attack / noise" in matched and "1D CNN (waveform)" in matched
    assert "STFT 2D CNN + mel 2D CNN (waveform)" in matched   # the ensemble source, named by its models
    verdict = pd.read_csv(run / "reports/tables/study_verdict.csv")
    assert len(verdict) == 5 * 5 * 2 * 2 * 3                   # source paths x targets x attacks x eps x controls
    held_out = verdict["Target"].str.endswith("(held out)")
    assert held_out.sum() == 5 * 2 * 2 * 2 * 3 and held_out.iloc[-held_out.sum():].all()  # reported apart, last
    assert verdict["control − attack accuracy [95 % CI]"].str.match(r"^[+-]\d+\.\d \[[+-]\d+\.\d, [+-]\d+\.\d\]$").all()
    bounds = pd.read_csv(run / "reports/tables/study_bounds.csv")
    assert len(bounds) == 5 * 5 * 2 * 3
    assert bounds["Verdict"].str.match(r"^(≤ -?\d+\.\d points \(95 %\) at every budget down to|beats it from)").all()
    metrics = json.loads((run / "reports/metrics_details.json").read_text())["study"]
    assert {"stft/clean_phase", "mel/oracle_phase", "mel/griffin_lim", "cnn1d/waveform", "wave_2d/waveform",
            "verdict"} <= set(metrics)
    # the ensemble's headline rows: transfer to the model it does not attack only
    headline = {p.stem for p in (run / "reports/headline").glob("wave_2d*.json")}
    assert headline == {"wave_2d_to_1d", "wave_2d_to_sample", "wave_2d_to_resmel"}
    cell = metrics["verdict"]["stft/clean_phase"]["cnn1d"]["bim"]["null"]
    assert {"beats_snr_db", "gap_low", "gap_high", "upper_bound", "down_to_snr_db"} <= set(cell)
    assert set(metrics["cnn1d/waveform"]["noise"]["eps_0.1"]) == {"true_snr_db", "cnn2d_stft", "cnn2d_mel", "cnn1d",
                                                                  "samplecnn", "resnet_mel"}
    # noise on every sample at 0.1 x RMS: 20 dB by construction (the clip's own RMS; 16-bit aside)
    assert metrics["cnn1d/waveform"]["noise"]["eps_0.1"]["true_snr_db"] == pytest.approx(20.0, abs=0.05)
    visqol = quality["visqol"].dropna()
    assert len(visqol) and ((visqol >= 1) & (visqol <= 4.74)).all()
    assert set(quality.loc[quality["visqol"].notna(), "kind"]) == {"fgsm", "bim"}
    for name in ("study_accuracy_vs_snr", "study_visqol_vs_snr"):
        assert (run / f"reports/figures/{name}.png").stat().st_size > 5000
    assert len(list((run / "reports/plots/study").glob("*.csv"))) == 5 * 7
    page = (run / "reports/index.html").read_text()
    assert "Transfer study: the budgets, heard" in page and page.count('src="study_audio/') >= 7


def test_study_reruns_are_per_source(run):
    """One source's sweep plans only that source's study jobs; retraining the 1D CNN plans
    its own source's perturbations and every source's scoring, never the 2D sources'
    perturbations nor any spectrogram attack or rebuild."""
    def plan(section, key, value):
        out = dry_run(run, {section: {key[0]: {key[1]: value}}})
        perturbed = re.findall(r"^Job \d+: Study: (\S+) attacks and controls", out, re.M)
        return job_stats(out), perturbed

    stats, perturbed = plan("study", ("sources", "stft"), {"eps": [1.0, 3.0], "visqol_eps": [1.0]})
    assert set(stats) <= {"study_perturb", "study_score", "listening", "report", "all"}
    assert stats["study_score"] == 2 and perturbed == ["stft"] * 2

    stats, perturbed = plan("model", ("cnn1d", "dropout"), 0.3)
    assert stats["train"] == 2 and stats["study_score"] == 8 and perturbed == ["cnn1d"] * 2
    assert not {"adversarial", "eps_sweep", "spectrograms"} & set(stats)


def test_keeping_only_the_listening_audio_gives_the_same_verdict(repo, tmp_path):
    """study.keep_audio: listening on the finished tiny run: every study source is perturbed
    again and scored in the same job (no study_score job), the audio shards keep the listening
    page's clip only (study.listening_clips: 1, in fold 1), and the study's verdict is the one the kept-audio
    run gave (scores equal up to batching's float rounding: the same outcomes)."""
    def audio_bytes():
        return sum(p.stat().st_size for p in (repo / "data/study/audio").rglob("*.h5"))
    before, kept = pd.read_csv(repo / "reports/tables/study_verdict.csv"), audio_bytes()
    overlay = tmp_path / "listening.yaml"
    overlay.write_text("study:\n  keep_audio: listening\n")
    proc = snakemake(repo, "--cores", "2", "--configfile", str(overlay))
    out = proc.stdout + proc.stderr
    stats = job_stats(out)
    assert stats["study_perturb"] == 8 and "study_score" not in stats and "train" not in stats
    for path in (repo / "data/study/audio").rglob("*.h5"):
        with open_shard(path) as h5:
            assert len(set(h5["track_id"][...])) == 1 if path.name.startswith("fold1") else h5.attrs["rows"] == 0
    after = pd.read_csv(repo / "reports/tables/study_verdict.csv")
    pd.testing.assert_frame_equal(after, before)
    assert audio_bytes() < kept / 10                           # 1 of 20 studied clips
