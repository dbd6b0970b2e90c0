import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from conftest import tone, write_audio
from crossrep import audio, dataset

SR = 22050
WINDOW = 110250


def test_segment_count_is_21_per_30s_clip():
    assert len(audio.segment_starts(30 * SR, WINDOW, 0.75)) == 21
    assert len(audio.segment_starts(10 * SR, WINDOW, 0.75)) == 5
    assert len(audio.segment_starts(WINDOW - 1, WINDOW, 0.75)) == 0
    segs = audio.segments(np.arange(30 * SR, dtype=np.float32), WINDOW, 0.75)
    assert segs.shape == (21, WINDOW) and segs[1, 0] == 27562


@pytest.fixture
def messy_folder(tmp_path):
    """Mixed formats, rates and channels, a broken file, a too-short one, a long recording."""
    root = tmp_path / "music"
    write_audio(root / "rock" / "a.wav", tone(12, 44100, channels=2), 44100)                  # stereo 44.1k
    write_audio(root / "rock" / "b.flac", tone(12, 16000, 300), 16000)                         # flac 16k
    write_audio(root / "rock" / "c.ogg", tone(12, SR, 500), SR, format="OGG", subtype="VORBIS")
    write_audio(root / "rock" / "d.au", tone(9.6, SR, 200), SR, format="AU", subtype="PCM_16")  # 0.4 s short: padded
    write_audio(root / "jazz" / "long.wav", tone(31, SR, 330), SR)                             # 3 clips
    write_audio(root / "jazz" / "e.mp3", tone(12, SR, 600), SR, format="MP3", subtype="MPEG_LAYER_III")
    write_audio(root / "jazz" / "f.wav", tone(11, 8000, 250, channels=2), 8000)
    write_audio(root / "jazz" / "short.wav", tone(3, SR), SR)                                  # < one segment
    (root / "jazz" / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt garbage")         # like jazz.00054
    (root / "jazz" / "notes.txt").write_text("not audio")
    return root


def test_folder_manifest_handles_formats_broken_short_and_long(messy_folder):
    m = dataset.build_manifest(messy_folder, ["rock", "jazz"], folds=3, clip_seconds=10.0,
                               pad_tolerance_seconds=1.0, sample_rate=SR, window=WINDOW,
                               silence_threshold=1e-5, seed=0)
    by_source = m.groupby("source")
    skipped = m[m.status == "skipped"].set_index("source")["reason"]
    assert "unreadable" in skipped["jazz/broken.wav"]
    assert "too short" in skipped["jazz/short.wav"]
    assert "extension" in skipped["jazz/notes.txt"]
    long = m[m.source == "jazz/long.wav"]
    assert list(long.track_id) == ["jazz/long.wav#0", "jazz/long.wav#1", "jazz/long.wav#2"]
    assert long.fold.nunique() == 1 and set(long.samples) == {10 * SR}
    assert "clip 3/3" in long.reason.iloc[2]
    padded = m[m.source == "rock/d.au"].iloc[0]
    assert padded.status == "padded" and "padded 0.400 s" in padded.reason
    for source in ["rock/a.wav", "rock/b.flac", "rock/c.ogg", "jazz/e.mp3", "jazz/f.wav"]:
        assert by_source.get_group(source).status.tolist() == ["ok"], source
    used = m[m.status != "skipped"]
    assert set(used.fold) == {1, 2, 3} and (m[m.status == "skipped"].fold == 0).all()
    assert set(used.label) == {0, 1}


def test_clip_audio_resamples_pads_and_segments(messy_folder, tmp_path):
    m = dataset.build_manifest(messy_folder, ["rock", "jazz"], 3, 10.0, 1.0, SR, WINDOW, 1e-5, 0)
    rows = m[m.status != "skipped"]
    clips = dict((row.track_id, x) for row, x in dataset.clip_audio(messy_folder, rows, SR, 10 * SR))
    assert clips["rock/d.au"].shape == (10 * SR,) and np.all(clips["rock/d.au"][-int(0.4 * SR) + 10:] == 0)
    assert clips["rock/a.wav"].shape == (10 * SR,)                      # 44.1 kHz stereo -> 22.05 kHz mono
    # a 440 Hz tone keeps its pitch through resampling
    spectrum = np.abs(np.fft.rfft(clips["rock/a.wav"][:SR]))
    assert abs(np.argmax(spectrum) - 440) <= 1


def test_genre_without_usable_file_is_a_clear_error(tmp_path):
    root = tmp_path / "music"
    for i in range(3):
        write_audio(root / "rock" / f"{i}.wav", tone(6, SR), SR)
    (root / "jazz").mkdir()
    (root / "jazz" / "bad.wav").write_bytes(b"nope")
    with pytest.raises(dataset.DatasetError, match="'jazz' has 0 usable recording"):
        dataset.build_manifest(root, ["rock", "jazz"], 3, 6.0, 1.0, SR, WINDOW, 1e-5, 0)
    with pytest.raises(dataset.DatasetError, match="genre folder .*pop is missing"):
        dataset.scan(root, ["rock", "pop"])


def _fake_gtzan(order_seed=None):
    genres = [f"g{i}" for i in range(10)]
    rows = [dict(track_id=f"{g}/{g}.{i:05d}.wav", source=f"{g}/{g}.{i:05d}.wav", genre=g, label=k, fold=0,
                 offset=0, samples=661500, status="ok", reason="")
            for k, g in enumerate(genres) for i in range(100)]
    frame = pd.DataFrame(rows, columns=dataset.COLUMNS)
    if order_seed is not None:
        frame = frame.sample(frac=1, random_state=order_seed).reset_index(drop=True)
    return frame, genres


def test_folds_are_stratified_reproducible_and_order_independent():
    a, genres = _fake_gtzan()
    dataset.assign_folds(a, genres, 3, seed=5)
    assert a.groupby("fold").size().tolist() == [340, 330, 330]
    assert (a.groupby(["genre", "fold"]).size().unstack().values == [34, 33, 33]).all()
    b, _ = _fake_gtzan(order_seed=1)                      # another file-system order
    dataset.assign_folds(b, genres, 3, seed=5)
    assert a.set_index("source").fold.equals(b.set_index("source").fold.loc[a.source])
    c, _ = _fake_gtzan()
    dataset.assign_folds(c, genres, 3, seed=6)
    assert not a.fold.equals(c.fold)


def test_load_rejects_non_finite_and_empty(tmp_path):
    nan = tone(6, SR).astype(np.float32)
    nan[100] = np.nan
    write_audio(tmp_path / "nan.wav", nan, SR, subtype="FLOAT")
    with pytest.raises(audio.AudioError, match="NaN"):
        audio.load(tmp_path / "nan.wav", SR)
    sf.write(tmp_path / "empty.wav", np.zeros(0), SR)
    with pytest.raises(audio.AudioError, match="empty"):
        audio.load(tmp_path / "empty.wav", SR)


@pytest.mark.parametrize("rate, channels", [(44100, 2), (16000, 1), (SR, 2)])
def test_streaming_decode_equals_whole_file_decode(tmp_path, rate, channels):
    """Block-by-block decoding and stream resampling give the samples of decoding and
    resampling the whole file at once (soxr HQ, as librosa calls it): exactly, blocks edges
    included, and clips cut in one streamed pass equal slices of the whole."""
    import librosa

    path = write_audio(tmp_path / "x.wav", tone(7.3, rate, 350, channels=channels), rate, subtype="FLOAT")
    data, _ = sf.read(path, dtype="float32", always_2d=True)
    whole = data.mean(axis=1)
    if rate != SR:
        whole = librosa.resample(whole, orig_sr=rate, target_sr=SR, res_type="soxr_hq")
    streamed = np.concatenate(list(audio.stream(path, SR, block_frames=1000)))  # ~100 block edges
    assert streamed.shape == whole.shape and np.array_equal(streamed, whole)
    spans = [(0, SR), (SR, 2 * SR), (3 * SR + 17, SR), (7 * SR, SR)]  # the last runs past the end
    for (offset, n), clip in zip(spans, audio.clips(path, SR, spans), strict=True):
        assert np.array_equal(clip, whole[offset:offset + n])
    with pytest.raises(ValueError, match="ascending"):
        list(audio.clips(path, SR, spans[::-1]))


def _collection(clip_counts: dict[str, list[int]], order_seed=None) -> pd.DataFrame:
    """Manifest rows of recordings with known clip counts, per genre (no audio needed)."""
    rows = [dict(track_id=f"{g}/r{i}.wav#{k}", source=f"{g}/r{i}.wav", genre=g, label=label, fold=0,
                 offset=k, samples=1, status="ok", reason="")
            for label, (g, counts) in enumerate(clip_counts.items()) for i, n in enumerate(counts) for k in range(n)]
    frame = pd.DataFrame(rows, columns=dataset.COLUMNS)
    return frame if order_seed is None else frame.sample(frac=1, random_state=order_seed).reset_index(drop=True)


def test_folds_keep_recordings_whole_and_balance_clips_per_genre():
    # genre a: one long recording of 120 clips beside short ones (the lopsided case)
    counts = {"a": [120, 1, 1, 2, 30, 30, 5, 1], "b": [3, 6, 1, 6, 3, 1, 6, 3, 1], "c": [1] * 10}
    m = _collection(counts)
    dataset.assign_folds(m, list(counts), 3, seed=3)
    assert (m.groupby("source").fold.nunique() == 1).all()           # a recording never splits
    per_fold = m.groupby(["genre", "fold"]).size().unstack(fill_value=0)
    for genre, n in counts.items():
        spread = per_fold.loc[genre].max() - per_fold.loc[genre].min()
        assert spread <= max(n), (genre, per_fold.loc[genre].tolist())
    assert per_fold.loc["b"].tolist() == [10, 10, 10]                 # 30 clips dealt evenly
    assert sorted(per_fold.loc["c"].tolist()) == [3, 3, 4]
    shuffled = _collection(counts, order_seed=4)                       # file order does not matter
    dataset.assign_folds(shuffled, list(counts), 3, seed=3)
    assert m.set_index("track_id").fold.equals(shuffled.set_index("track_id").fold.loc[m.track_id])


def test_clip_cap_keeps_evenly_spaced_clips_and_bounds_the_fold_spread(tmp_path):
    root = tmp_path / "music"
    write_audio(root / "rock" / "mix.wav", tone(60, SR, 300), SR)      # 10 clips of 6 s
    for i in range(5):
        write_audio(root / "rock" / f"s{i}.wav", tone(6, SR, 200 + 40 * i), SR)
        write_audio(root / "jazz" / f"s{i}.wav", tone(6, SR, 230 + 40 * i), SR)
    m = dataset.build_manifest(root, ["rock", "jazz"], 3, 6.0, 1.0, SR, WINDOW, 1e-5, seed=0,
                               max_clips_per_recording=4)
    mix = m[m.source == "rock/mix.wav"]
    used = mix[mix.status != "skipped"]
    assert list(used.offset // (6 * SR)) == [0, 3, 6, 9]               # evenly spaced, first and last
    assert (mix[mix.status == "skipped"].reason.str.contains("max_clips_per_recording=4")).all()
    per_fold = m[m.status != "skipped"].groupby(["genre", "fold"]).size().unstack(fill_value=0)
    assert per_fold.loc["rock"].max() - per_fold.loc["rock"].min() <= 4
    uncapped = dataset.build_manifest(root, ["rock", "jazz"], 3, 6.0, 1.0, SR, WINDOW, 1e-5, seed=0)
    assert (uncapped.status != "skipped").sum() == 20


def test_parts_pack_whole_clips_in_manifest_order_up_to_max_segments(tmp_path):
    root = tmp_path / "music"
    write_audio(root / "rock" / "mix.wav", tone(60, SR, 300), SR)      # 10 clips of 6 s, 1 segment each
    for i in range(5):
        write_audio(root / "rock" / f"s{i}.wav", tone(6, SR, 200 + 40 * i), SR)
        write_audio(root / "jazz" / f"s{i}.wav", tone(6, SR, 230 + 40 * i), SR)
    args = (root, ["rock", "jazz"], 3, 6.0, 1.0, SR, WINDOW, 1e-5)
    one = dataset.build_manifest(*args, seed=0, overlap=0.75)
    used = one[one.status != "skipped"]
    assert set(used.part) == {1} and set(one[one.status == "skipped"].part) <= {0}
    # every 6 s clip gives one 5 s segment: parts of two clips
    split = dataset.build_manifest(*args, seed=0, overlap=0.75, max_segments=2)
    assert split.drop(columns="part").equals(one.drop(columns="part"))   # only the parts differ
    for fold, rows in split[split.status != "skipped"].groupby("fold"):
        assert rows.part.tolist() == sorted(rows.part), fold              # consecutive runs, in manifest order
        assert rows.groupby("part").size().max() <= 2
        assert rows.part.tolist() == [1 + i // 2 for i in range(len(rows))]
    path = tmp_path / "manifest.csv"
    split.to_csv(path, index=False)
    parts = dataset.fold_parts(dataset.read_manifest(path))
    assert sorted(parts) == [1, 2, 3]
    assert all(p == list(range(1, len(p) + 1)) for p in parts.values())
    sizes = split[split.status != "skipped"].groupby("fold").size()
    assert {f: len(p) for f, p in parts.items()} == {f: -(-int(n) // 2) for f, n in sizes.items()}


def test_a_part_never_splits_a_clip_and_holds_at_most_max_segments():
    # clips of 21, 3 and 1 segments in one fold: parts of at most 24 segments
    m = pd.DataFrame(dict(fold=1, status="ok", samples=[30 * SR, 165375, 5 * SR, 30 * SR, 5 * SR]))
    dataset.assign_parts(m, 24, 30 * SR, WINDOW, 0.75)
    counts = [21, 3, 1, 21, 1]
    assert m.part.tolist() == [1, 1, 2, 2, 2]
    assert all(sum(c for c, p in zip(counts, m.part, strict=True) if p == k) <= 24 for k in (1, 2))
    dataset.assign_parts(m, None, 30 * SR, WINDOW, 0.75)
    assert m.part.tolist() == [1] * 5


def test_pcm16_is_what_a_written_wav_holds(tmp_path):
    """to_pcm16 / from_pcm16 give exactly the samples of a 16-bit WAV written by write_wav and
    read back by soundfile, clipping included; clipped_samples counts what the file clips."""
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-1.3, 1.3, 5000), [-1.0, -0.5, -1 / 65536, 0.0, 1 / 65536, 0.5, 1.0]])
    audio.write_wav(tmp_path / "x.wav", x, SR)
    written, _ = sf.read(tmp_path / "x.wav", dtype="int16")
    assert np.array_equal(audio.to_pcm16(x)[0], written)
    read, _ = sf.read(tmp_path / "x.wav", dtype="float32")
    assert np.array_equal(audio.from_pcm16(written), read)
    assert audio.clipped_samples(x)[0] == int((np.abs(x) > 1).sum()) > 0
