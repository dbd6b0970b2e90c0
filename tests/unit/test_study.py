"""The transfer study's pieces on real small computations: whole-clip tiling, zero budgets,
the waveform budget, the noise control, matched-SNR reading, and the per-segment figures."""
import numpy as np
import pandas as pd
import pytest
import torch

from crossrep import metrics, models, synthetic
from crossrep.attacks import AttackConfig, Ensemble, attack, attack_labels, row_seeds
from crossrep.features import Spectrogram, SpectrogramConfig, SpectrogramInput
from crossrep.study.clips import choose, part_clips, study_part, study_parts, tile, untile
from crossrep.study.perturb import ScaledInput, Source, perturbed, rebuilt_windows
from crossrep.study.summary import at_snr, segment_figures

SR, WINDOW = 22050, 110250
ATTACK = dict(label="predicted", targeted=False, clip_to_range=False, batch_size=8, fgsm={"eps": 0.3},
              bim={"eps": 0.3, "step": 0.1, "iterations": 3}, pgd={"eps": 0.3, "step": 0.1, "iterations": 3},
              mi_fgsm={"eps": 0.3, "step": 0.1, "iterations": 3, "momentum": 1.0})


@pytest.fixture(scope="module")
def clip():
    """One 7.5 s synthetic clip: two model windows when tiled (the second half padding)."""
    return synthetic.generate_track("blues", 0, 3, 7.5, SR)


def _cnn2d(rep, spec):
    return models.CNN2D(spec.cfg.n_bins(rep), spec.cfg.n_frames(WINDOW), 10, widths=(2, 2, 4, 4), dense=8).eval()


def _source(name):
    """A study source of tiny untrained models: stft, mel (spectrogram sources), cnn1d, and the
    waveform sources through the 2D CNNs: wave_stft (one), wave_2d (both, an ensemble)."""
    torch.manual_seed(0)
    spec = Spectrogram(SpectrogramConfig())
    if name == "cnn1d":
        model = models.CNN1D(samples=WINDOW, gammatone_filters=4, widths=(4, 4, 4, 4), dense=8).eval()
        return Source(name, model, 10)
    if name.startswith("wave"):
        reps = ["stft"] if name == "wave_stft" else ["stft", "mel"]
        return Source(name, Ensemble([SpectrogramInput(_cnn2d(rep, spec), spec, rep) for rep in reps]), 10)
    return Source(name, _cnn2d(name, spec), 10, spec, griffin_lim_iterations=4)


def _rebuild(source, clip, kind, eps):
    windows = tile(clip, WINDOW)
    rms = np.full(len(windows), np.sqrt(np.mean(clip.astype(np.float64) ** 2)))
    out = rebuilt_windows(source, windows, clip_rms=rms, keys=[f"c#tile{i}" for i in range(len(windows))],
                          truth=np.zeros(len(windows), int), kind=kind, eps_values=[eps], attack_params=ATTACK,
                          seed=0)[0]
    return {path: untile(w, len(clip)) for path, w in out.items()}


@pytest.mark.parametrize("name,kind", [("mel", "bim"), ("stft", "noise"), ("cnn1d", "fgsm"), ("cnn1d", "bim"),
                                       ("wave_2d", "mi_fgsm")])
def test_a_sweep_rebuilt_in_one_pass_equals_one_pass_per_eps(clip, name, kind):
    """The study perturbs and rebuilds every eps of a sweep together; each eps's audio is
    what perturbing and rebuilding at that eps alone gives."""
    source, windows = _source(name), tile(clip, WINDOW)
    common = dict(clip_rms=np.full(len(windows), 0.1), keys=["c#tile0", "c#tile1"], truth=np.zeros(2, int),
                  kind=kind, attack_params=ATTACK, seed=0)
    swept = rebuilt_windows(source, windows, eps_values=[0.0, 1.0, 3.0], **common)
    for eps, together in zip([0.0, 1.0, 3.0], swept, strict=True):
        alone = rebuilt_windows(source, windows, eps_values=[eps], **common)[0]
        assert together.keys() == alone.keys()
        for path in alone:
            np.testing.assert_allclose(together[path], alone[path], atol=1e-5)
    assert not np.allclose(next(iter(swept[1].values())), next(iter(swept[2].values())))


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


@pytest.mark.parametrize("name", ["wave_stft", "wave_2d"])
def test_a_waveform_attack_through_2d_cnns_ships_what_it_optimised(clip, name):
    """No rebuild: the shipped samples are the attack's own iterate, to the bit, and the 2D CNNs
    read them through the pipeline's spectrogram as the attack saw them."""
    source, windows = _source(name), tile(clip, WINDOW)
    rms = float(np.sqrt(np.mean(clip.astype(np.float64) ** 2)))
    shipped = rebuilt_windows(source, windows, clip_rms=np.full(2, rms), keys=["c#tile0", "c#tile1"],
                              truth=np.zeros(2, int), kind="bim", eps_values=[0.1], attack_params=ATTACK, seed=0)[0]
    scale = torch.full((2, 1), rms)
    seen = Ensemble([ScaledInput(m, scale) for m in source.model.members])
    u = torch.from_numpy(windows) / scale
    labels = attack_labels(seen, u, None, "predicted", False, 10)
    bim = AttackConfig.from_params("bim", ATTACK, eps=0.1)
    optimised = attack(seen, u, labels, bim, row_seeds(0, ["c#tile0", "c#tile1"]))
    assert np.abs(shipped["waveform"] - (optimised * scale).numpy()).max() == 0
    assert np.abs(shipped["waveform"] - windows).max() <= 0.1 * rms * (1 + 1e-5)
    for member in source.model.members:  # the pipeline's spectrogram of the shipped audio is what the CNN read
        read = torch.from_numpy(member.transform.db(member.representation, shipped["waveform"]))
        np.testing.assert_allclose(member.model(read).detach().numpy(),
                                   member(torch.from_numpy(shipped["waveform"])).detach().numpy(), atol=1e-4)


def test_round_trip_sees_the_pipelines_own_rebuild():
    """What a round-trip-aware attack's model reads is the spectrogram of the audio the study
    ships: the STFT rebuilt with the clean phase (``reconstruction.invert``), taken again."""
    from crossrep.reconstruction import RoundTrip, invert

    spec, windows = Spectrogram(SpectrogramConfig()), _windows(2)
    db, reference = spec.db("stft", windows), spec.reference("stft", windows)
    seen = RoundTrip(torch.nn.Identity(), spec, "stft", reference, None, WINDOW)(torch.from_numpy(db) + 1.0)
    shipped = invert(spec, "stft", db + 1.0, WINDOW, reference=reference)
    np.testing.assert_allclose(seen.detach().numpy(), spec.db("stft", shipped), atol=1e-3)


def test_round_trip_aware_bim_keeps_more_of_its_effect_in_audio():
    """BIM crafted through the rebuild leaves the white-box STFT source, on the audio shipped,
    agreeing with its clean predictions (the labels attacked: attack.label predicted) no more
    often than plain BIM at the same eps, and at a small eps far less often (here 0.35 vs
    0.90 of 20 windows at 0.1 dB; none at 1 dB either way): the round trip no longer undoes
    most of the attack."""
    torch.manual_seed(0)
    spec, windows = Spectrogram(SpectrogramConfig()), _windows(20)
    model = _cnn2d("stft", spec)
    with torch.no_grad():
        clean = model(torch.from_numpy(spec.db("stft", windows))).argmax(1)
    agree = {}
    for round_trip in (False, True):
        source = Source("stft", model, 10, spec, models=("cnn2d_stft",), round_trip=round_trip)
        shipped = rebuilt_windows(source, windows, clip_rms=np.ones(len(windows)), keys=[f"w{i}" for i in range(20)],
                                  truth=None, kind="bim", eps_values=[0.1, 1.0], attack_params=ATTACK, seed=0)
        with torch.no_grad():
            agree[round_trip] = [float((model(torch.from_numpy(spec.db("stft", at_eps["clean_phase"]))).argmax(1)
                                        == clean).float().mean()) for at_eps in shipped]
    assert all(aware <= plain for aware, plain in zip(agree[True], agree[False], strict=True)), agree
    assert agree[True][0] <= agree[False][0] - 0.2, agree


def _windows(n: int) -> np.ndarray:
    """``n`` model windows of synthetic music, one per (genre, track)."""
    genres = list(synthetic.STYLES)
    return np.stack([synthetic.generate_track(genres[i % len(genres)], i // len(genres), 0, WINDOW / SR, SR)[:WINDOW]
                     for i in range(n)]).astype(np.float32)


@pytest.mark.parametrize("kind", ["fgsm", "bim", "noise"])
def test_waveform_budget_is_relative_to_the_clip_rms(clip, kind):
    """L-inf <= eps x RMS on every sample; FGSM and noise use all of it: true SNR = -20 log10(eps)."""
    eps = 0.1
    adv = _rebuild(_source("cnn1d"), clip, kind, eps)["waveform"]
    rms = np.sqrt(np.mean(clip.astype(np.float64) ** 2))
    assert np.abs(adv - clip).max() <= eps * rms * (1 + 1e-5)
    if kind != "bim":
        assert metrics.snr_db(clip, adv) == pytest.approx(20.0, abs=0.05)


def test_spectrogram_noise_control_has_fgsms_budget_and_is_louder_here(clip):
    """Random signs and FGSM both have an L-inf budget of eps dB on the STFT spectrogram: the
    noise uses all of it on every bin, FGSM on every bin with a non-zero gradient (96 % here).
    Their rebuilt audio differs in loudness (sign patterns survive the inverse STFT
    differently): on this clip and model the noise is 3.7 dB louder (true SNR 21.5 against
    25.3 dB), so at the same eps the random-sign control is the louder one, and the verdict
    table states both SNRs."""
    source = _source("stft")
    windows = tile(clip, WINDOW)
    clean = torch.from_numpy(source.transform.db("stft", windows))
    keys = [f"c#tile{i}" for i in range(len(windows))]
    for kind, full in (("fgsm", 0.95), ("noise", 1.0)):
        (adv,) = perturbed(source.model, clean, kind, [1.0], keys=keys,
                           truth=torch.zeros(len(windows), dtype=torch.int64), attack_params=ATTACK, seed=0,
                           n_classes=10)
        delta = (adv - clean).abs()
        assert delta.max() <= 1.0 + 1e-5 and (delta > 0.999).float().mean() >= full
    rebuilt = _rebuild(source, clip, "noise", 0.0)["clean_phase"]
    snr = {k: float(metrics.snr_db(rebuilt, _rebuild(source, clip, k, 1.0)["clean_phase"])) for k in ("fgsm", "noise")}
    assert snr["fgsm"] - snr["noise"] > 2.0, snr


def test_matched_snr_reads_the_curve_and_says_when_unreached():
    snr = [43.0, 33.0, 23.0, 13.0, 0.5]
    accuracy = [80.0, 80.0, 70.0, 40.0, 10.0]
    got = at_snr(snr, accuracy, [40, 30, 20, 10, 50, -5])
    np.testing.assert_allclose(got[:4], [80.0, 77.0, 61.0, 40 - 30 * 3 / 12.5])
    assert np.isnan(got[4]) and np.isnan(got[5])            # beyond the sweep: no extrapolation
    never = at_snr([8.0, 7.5, 6.0], [50.0, 45.0, 30.0], [40, 30, 20, 10])  # Griffin-Lim-like: never above 8 dB
    assert np.isnan(never).all()
    assert np.isnan(at_snr([np.inf, 20.0], [80.0, 60.0], [30])).all()     # eps 0's infinite SNR is no point


def _outcomes(kind, eps, right, fold_of=lambda i: 1 + i % 3, draw=0):
    """Per-clip outcome rows of one-segment clips for target cnn1d (``right``: 0/1 per clip)."""
    return [dict(source="stft", path="clean_phase", kind=kind, eps=eps, draw=draw, target="cnn1d", fold=fold_of(i),
                 track_id=f"c{i}", segments=1, right=r, clean_right=1, fooled=1 - r, source_fooled=1,
                 both_fooled=1 - r, agree=0, fooled_confidence=0.0, vote_right=r, sum_right=r, clips=1)
            for i, r in enumerate(right)]


def test_verdict_pairs_clips_and_bounds_what_it_cannot_show():
    """60 clips: the attack is wrong on 30, the null on 6 (all shared with the attack's),
    random signs right on all (two draws), the untrained source's attack wrong on 25 of
    the attack's 30. Gaps: 40, 50 and 8.3 points; the intervals exclude 10 for the first two
    only; McNemar counts the discordant clips; the bounds name where each is beaten."""
    from crossrep.study.analysis import bounds, verdict

    n = 60
    attack = [0] * 30 + [1] * 30
    null = [0] * 6 + [1] * 54
    init = [0] * 25 + [1] * 35
    rows = []
    for eps, scale in ((1.0, 0), (3.0, 1)):          # eps 1: no effect at all; eps 3: the effect above
        rows += _outcomes("none", 0.0, [1] * n) if eps == 1.0 else []
        rows += _outcomes("fgsm", eps, attack if scale else [1] * n)
        rows += _outcomes("fgsm_null", eps, null if scale else [1] * n)
        rows += _outcomes("fgsm_init", eps, init if scale else [1] * n)
        rows += _outcomes("noise", eps, [1] * n, draw=0) + _outcomes("noise", eps, [1] * n, draw=1)
    outcomes = pd.DataFrame(rows)
    clips = pd.DataFrame([dict(source="stft", path="clean_phase", kind=k, eps=e, true_snr_db=s, visqol=np.nan)
                          for k in ("fgsm", "fgsm_null", "fgsm_init", "noise") for e, s in ((1.0, 22.0), (3.0, 12.0))])
    table = verdict(outcomes, clips, ["fgsm"], margin=10, seed=0, resamples=2000).set_index(["eps", "control"])
    loud = table.loc[3.0]
    assert loud.loc["noise", "accuracy_gap"] == pytest.approx(50.0)
    assert loud.loc["null", "accuracy_gap"] == pytest.approx(40.0)
    assert loud.loc["init", "accuracy_gap"] == pytest.approx(500 / 60)
    assert loud.loc["null", "gap_low"] > 10 and loud.loc["noise", "beats"] and loud.loc["null", "beats"]
    assert not loud.loc["init", "beats"] and loud.loc["init", "gap_low"] < 10 < loud.loc["init", "gap_high"]
    assert (loud.loc["null", "only_attack_wrong"], loud.loc["null", "only_control_wrong"]) == (24, 0)
    assert loud.loc["null", "p_mcnemar"] == pytest.approx(2 * 0.5 ** 24)
    assert loud.loc["noise", "attack_snr_db"] == 12.0 and loud.loc["noise", "clips"] == n
    quiet = table.loc[1.0]
    assert (quiet["accuracy_gap"] == 0).all() and not quiet["beats"].any()
    assert (quiet["gap_low"] == 0).all() and (quiet["p_mcnemar"] == 1).all()
    found = bounds(verdict(outcomes, clips, ["fgsm"], margin=10, seed=0, resamples=2000)).set_index("control")
    assert found.loc["null", "beats_snr_db"] == 12.0 and found.loc["null", "beats_eps"] == 3.0
    assert np.isnan(found.loc["init", "beats_snr_db"])
    assert found.loc["init", "upper_bound"] == pytest.approx(loud.loc["init", "gap_high"])
    assert found.loc["init", "down_to_snr_db"] == 12.0


def test_conditional_rate_is_over_segments_the_target_could_lose():
    """P(target fooled | source fooled) counts only segments the target had right when clean:
    the source is fooled on all four; the target was right on three and is fooled on two of
    them, and wrong on the fourth both times: 2 / 3, not 2 / 4."""
    rows = pd.DataFrame({"kind": ["none"] * 4 + ["fgsm"] * 4, "eps": [0.0] * 4 + [1.0] * 4, "draw": 0,
                         "path": ["clean_phase"] * 8, "track_id": ["a", "b", "c", "d"] * 2,
                         "segment": 0, "label": [0, 0, 1, 1] * 2})

    def probs(preds):
        out = np.full((len(preds), 3), 0.1)
        out[np.arange(len(preds)), preds] = 0.8
        return out
    by_model = {"cnn2d_stft": probs([0, 0, 1, 1, 2, 2, 0, 0]), "cnn1d": probs([0, 0, 1, 2, 2, 0, 0, 0])}
    table = segment_figures(rows, by_model, "stft", 1, ("cnn2d_stft",)).set_index(["eps", "target"])
    assert table.loc[(1.0, "cnn1d"), "conditional"] == pytest.approx(200 / 3)
    assert table.loc[(1.0, "cnn2d_stft"), "conditional"] == 100.0


def test_segment_figures_on_hand_made_predictions():
    """Four segments, source = STFT 2D CNN; targets: the source itself and the 1D CNN."""
    def probs(preds):
        out = np.full((len(preds), 3), 0.1)
        out[np.arange(len(preds)), preds] = 0.8
        return out
    rows = pd.DataFrame({"kind": ["none"] * 4 + ["fgsm"] * 4, "eps": [0.0] * 4 + [1.0] * 4, "draw": 0,
                         "path": ["clean_phase"] * 8, "track_id": ["a", "a", "b", "b"] * 2,
                         "segment": [0, 1, 0, 1] * 2, "label": [0, 0, 1, 1] * 2})
    # clean: source right on all four, 1D CNN right on three; attacked: source fooled on 0, 1, 2;
    # 1D fooled on 0 (agreeing with the source's label 2) and 2 (disagreeing)
    by_model = {"cnn2d_stft": probs([0, 0, 1, 1, 2, 1, 0, 1]), "cnn1d": probs([0, 0, 1, 2, 2, 0, 2, 2])}
    table = segment_figures(rows, by_model, "stft", 1, ("cnn2d_stft",)).set_index(["eps", "target"])
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
