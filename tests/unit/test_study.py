"""The transfer study's pieces on real small computations: whole-clip tiling, zero budgets,
the waveform budget, the noise control, matched-SNR reading, and the per-segment figures."""
import numpy as np
import pandas as pd
import pytest
import torch

from crossrep import metrics, models, synthetic
from crossrep.features import Spectrogram, SpectrogramConfig
from crossrep.study.clips import choose, part_clips, study_part, study_parts, tile, untile
from crossrep.study.perturb import Source, rebuilt_windows
from crossrep.study.summary import at_snr, segment_figures

SR, WINDOW = 22050, 110250
ATTACK = dict(label="predicted", targeted=False, clip_to_range=False, batch_size=8, fgsm={"eps": 0.3},
              bim={"eps": 0.3, "step": 0.1, "iterations": 3}, pgd={"eps": 0.3, "step": 0.1, "iterations": 3})


@pytest.fixture(scope="module")
def clip():
    """One 7.5 s synthetic clip: two model windows when tiled (the second half padding)."""
    return synthetic.generate_track("blues", 0, 3, 7.5, SR)


def _source(name):
    torch.manual_seed(0)
    if name == "cnn1d":
        model = models.CNN1D(samples=WINDOW, gammatone_filters=4, widths=(4, 4, 4, 4), dense=8).eval()
        return Source(name, model, 10)
    spec = Spectrogram(SpectrogramConfig())
    bins = spec.cfg.n_bins(name)
    model = models.CNN2D(bins, spec.cfg.n_frames(WINDOW), 10, widths=(2, 2, 4, 4), dense=8).eval()
    return Source(name, model, 10, spec, griffin_lim_iterations=4)


def _rebuild(source, clip, kind, eps):
    windows = tile(clip, WINDOW)
    rms = np.full(len(windows), np.sqrt(np.mean(clip.astype(np.float64) ** 2)))
    out = rebuilt_windows(source, windows, clip_rms=rms, keys=[f"c#tile{i}" for i in range(len(windows))],
                          truth=np.zeros(len(windows), int), kind=kind, eps=eps, attack_params=ATTACK, seed=0)
    return {path: untile(w, len(clip)) for path, w in out.items()}


def test_tiling_covers_every_sample_once(clip):
    windows = tile(clip, WINDOW)
    assert windows.shape == (2, WINDOW) and not windows[1, len(clip) - WINDOW:].any()
    np.testing.assert_array_equal(untile(windows, len(clip)), clip)


def test_whole_clip_from_clean_spectrograms_gives_the_clip_back(clip):
    """eps 0 on the STFT path is the clean rebuild: > 90 dB true SNR against the original clip;
    the mel paths are the lossy clean rebuilds every mel SNR is taken against."""
    stft = _rebuild(_source("stft"), clip, "bim", 0.0)["clean_phase"]
    assert metrics.snr_db(clip, stft) > 90
    mel = _rebuild(_source("mel"), clip, "noise", 0.0)
    assert set(mel) == {"oracle_phase", "griffin_lim"}
    assert metrics.snr_db(clip, mel["oracle_phase"]) > metrics.snr_db(clip, mel["griffin_lim"])
    waveform = _rebuild(_source("cnn1d"), clip, "fgsm", 0.0)["waveform"]
    np.testing.assert_allclose(waveform, clip, atol=1e-6)


@pytest.mark.parametrize("kind", ["fgsm", "bim", "noise"])
def test_waveform_budget_is_relative_to_the_clip_rms(clip, kind):
    """L-inf <= eps x RMS on every sample; FGSM and noise use all of it: true SNR = -20 log10(eps)."""
    eps = 0.1
    adv = _rebuild(_source("cnn1d"), clip, kind, eps)["waveform"]
    rms = np.sqrt(np.mean(clip.astype(np.float64) ** 2))
    assert np.abs(adv - clip).max() <= eps * rms * (1 + 1e-5)
    if kind != "bim":
        assert metrics.snr_db(clip, adv) == pytest.approx(20.0, abs=0.05)


def test_spectrogram_noise_control_has_the_budget_but_not_the_loudness_of_fgsm(clip):
    """Random signs and FGSM both move every STFT bin by eps dB, yet their rebuilt audio differs
    in loudness (sign patterns survive the inverse STFT differently): why the study compares
    them at matched TRUE SNR, not at matched eps."""
    source = _source("stft")
    clean = _rebuild(source, clip, "noise", 0.0)["clean_phase"]
    snr = {k: float(metrics.snr_db(clean, _rebuild(source, clip, k, 1.0)["clean_phase"])) for k in ("fgsm", "noise")}
    assert all(15 < v < 35 for v in snr.values()) and snr["fgsm"] != snr["noise"], snr


def test_matched_snr_reads_the_curve_and_says_when_unreached():
    snr = [43.0, 33.0, 23.0, 13.0, 0.5]
    accuracy = [80.0, 80.0, 70.0, 40.0, 10.0]
    got = at_snr(snr, accuracy, [40, 30, 20, 10, 50, -5])
    np.testing.assert_allclose(got[:4], [80.0, 77.0, 61.0, 40 - 30 * 3 / 12.5])
    assert np.isnan(got[4]) and np.isnan(got[5])            # beyond the sweep: no extrapolation
    never = at_snr([8.0, 7.5, 6.0], [50.0, 45.0, 30.0], [40, 30, 20, 10])  # Griffin-Lim-like: never above 8 dB
    assert np.isnan(never).all()
    assert np.isnan(at_snr([np.inf, 20.0], [80.0, 60.0], [30])).all()     # eps 0's infinite SNR is no point


def test_where_the_attack_first_beats_the_noise_on_a_hand_made_curve():
    """The first budget (from the quietest) whose accuracy is >= 10 points below the noise
    curve read at the same SNR; an attack that never gets there, and one whose quietest point
    lies beyond the noise curve's reach (no extrapolation), give NaN."""
    from crossrep.study.analysis import beats_noise

    def curve(kind, snr, accuracy, visqol=4.0):
        return [dict(source="stft", path="clean_phase", kind=kind, target="cnn1d", eps=e, true_snr_db_median=s,
                     segments_mean=a, visqol_mean=visqol) for e, s, a in zip([0.1, 1, 3, 10], snr, accuracy,
                                                                            strict=True)]
    table = pd.DataFrame(curve("noise", [40, 24, 13, 0], [80, 80, 70, 40])
                         + curve("fgsm", [40, 24, 13, 0], [80, 75, 55, 20], visqol=3.5)
                         + curve("bim", [41, 25, 14, 1], [60, 78, 65, 36]))
    rows = beats_noise(table).set_index("kind")
    fgsm, bim = rows.loc["fgsm"], rows.loc["bim"]
    assert (fgsm.snr_db, fgsm.eps, fgsm.attack_accuracy, fgsm.noise_accuracy, fgsm.visqol) == (13, 3, 55, 70, 3.5)
    # bim at 41 dB is 20 below the noise's 80 but past the noise curve's 40 dB: not read
    assert np.isnan(bim.snr_db) and bim.lowest_snr_db == 1


def test_segment_figures_on_hand_made_predictions():
    """Four segments, source = STFT 2D CNN; targets: the source itself and the 1D CNN."""
    def probs(preds):
        out = np.full((len(preds), 3), 0.1)
        out[np.arange(len(preds)), preds] = 0.8
        return out
    rows = pd.DataFrame({"kind": ["none"] * 4 + ["fgsm"] * 4, "eps": [0.0] * 4 + [1.0] * 4,
                         "path": ["clean_phase"] * 8, "track_id": ["a", "a", "b", "b"] * 2,
                         "segment": [0, 1, 0, 1] * 2, "label": [0, 0, 1, 1] * 2})
    # clean: source right on all four, 1D CNN right on three; attacked: source fooled on 0, 1, 2;
    # 1D fooled on 0 (agreeing with the source's label 2) and 2 (disagreeing)
    by_model = {"cnn2d_stft": probs([0, 0, 1, 1, 2, 1, 0, 1]), "cnn1d": probs([0, 0, 1, 2, 2, 0, 2, 2])}
    table = segment_figures(rows, by_model, "stft", 1).set_index(["eps", "target"])
    source, target = table.loc[(1.0, "cnn2d_stft")], table.loc[(1.0, "cnn1d")]
    assert source["fooling_rate"] == 75.0 and source["conditional"] == 100.0 and source["agreement"] == 100.0
    assert target["fooling_rate"] == pytest.approx(200 / 3)  # 2 of the 3 it had right
    assert target["conditional"] == pytest.approx(200 / 3)   # fooled on 2 of the source's 3
    assert target["agreement"] == 50.0 and target["confidence"] == pytest.approx(0.8 / 1.0)
    zero = table.loc[(0.0, "cnn1d")]                          # a zero budget is the clean score
    assert zero["fooling_rate"] == 0 and zero["segments"] == 75.0


def test_studied_clips_are_the_first_per_genre_by_recording_and_offset():
    rows = pd.DataFrame({"track_id": ["b/2", "a/1", "a/0", "b/1", "b/0"], "label": [1, 0, 0, 1, 1]})
    rows["source"], rows["offset"] = rows["track_id"], 0
    assert list(choose(rows, 1)["track_id"]) == ["a/0", "b/0"]
    assert len(choose(rows, None)) == 5
    # a long recording's clips come in offset order ("#10" sorts before "#2" as text)
    long = pd.DataFrame({"track_id": [f"a/x#{k}" for k in range(12)], "label": 0, "source": "a/x",
                         "offset": [k * 100 for k in range(12)]}).iloc[::-1]
    assert list(choose(long, 3)["track_id"]) == ["a/x#0", "a/x#1", "a/x#2"]
    assert list(choose(long, None)["offset"]) == sorted(long["offset"])


def test_study_parts_cut_the_chosen_clips_on_batch_boundaries():
    # 6.25 s clips: 2 windows to perturb, 2 segments to score; attack batch 4 -> 2 clips per batch
    window, clip = 110250, 137812
    assert part_clips(clip, window, 0.75, None, 4) is None                   # no limit: one part
    assert part_clips(clip, window, 0.75, 10, 4) == 8                        # lcm(2, 8), not 10 // 2 = 5
    assert part_clips(clip, window, 0.75, 100, 4) == 48                      # 50 clips, down to a multiple of 8
    m = pd.DataFrame({"track_id": [f"g{g}/{i}" for g in range(3) for i in range(7)], "label": [g for g in range(3)
                      for _ in range(7)], "fold": [1] * 14 + [2] * 7, "status": "ok"})
    m["source"], m["offset"] = m["track_id"], 0
    assert study_parts(m, None, 8) == {1: [1, 2], 2: [1]}
    assert study_parts(m, 1, 8) == {1: [1], 2: [1]} and study_parts(m, None, None) == {1: [1], 2: [1]}
    chosen = choose(m[m.fold == 1], None)
    assert pd.concat([study_part(chosen, p, 8) for p in (1, 2)]).equals(chosen)
