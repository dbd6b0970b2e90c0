"""A messy real-world collection, generated here, run through the folder dataset.

Every bad input has an expected outcome: used, skipped with its reason in the manifest,
or a clear error naming the problem.
"""
import html
import os

import numpy as np
import pytest

from conftest import tone, write_audio
from crossrep import dataset, listening

SR = 22050
WINDOW = 110250


def _wav_bytes(tmp_path, seconds):
    path = write_audio(tmp_path / "src.wav", tone(seconds, SR), SR)
    data = path.read_bytes()
    path.unlink()
    return data


@pytest.fixture
def corpus(tmp_path):
    root = tmp_path / "collection"
    rock, jazz, pop = root / "rock", root / "jazz", root / "pop"
    expected = {}

    def add(path, outcome):
        expected[path.relative_to(root).as_posix()] = outcome

    for i in range(3):                                                  # enough good ones for 3 folds
        for genre in (rock, jazz):
            add(write_audio(genre / f"good{i}.wav", tone(8, SR, 200 + 50 * i), SR), "used")
    (rock / "fake.wav").write_text("this is a text file, not audio")
    add(rock / "fake.wav", "unreadable")
    whole = _wav_bytes(tmp_path, 7.0)
    (rock / "truncated_short.wav").write_bytes(whole[:len(whole) // 2])   # 3.5 s survive
    add(rock / "truncated_short.wav", "too short")
    long = _wav_bytes(tmp_path, 16.0)
    (rock / "truncated_long.wav").write_bytes(long[:len(long) // 2])      # 8 s survive: usable
    add(rock / "truncated_long.wav", "used")
    (rock / "empty.wav").write_bytes(b"")
    add(rock / "empty.wav", "unreadable")
    add(write_audio(rock / "eight_bit.wav", tone(8, SR), SR, subtype="PCM_U8"), "used")
    add(write_audio(rock / "stereo44k.flac", tone(8, 44100, channels=2), 44100), "used")
    add(write_audio(jazz / "song.mp3", tone(8, SR), SR, format="MP3", subtype="MPEG_LAYER_III"), "used")
    add(write_audio(jazz / "short.wav", tone(3, SR), SR), "too short")
    add(write_audio(jazz / "silent.wav", np.zeros(8 * SR), SR), "silent")
    nan = tone(8, SR).astype(np.float32)
    nan[1000], nan[2000] = np.nan, np.inf
    add(write_audio(jazz / "nan.wav", nan, SR, subtype="FLOAT"), "NaN")
    add(write_audio(jazz / "good0.wav".replace("good0", "dup"), tone(8, SR, 330), SR), "used")
    add(write_audio(rock / "dup.wav", tone(8, SR, 440), SR), "used")          # same name, other genre
    add(write_audio(jazz / "Café <b>&\"Ünïcode\" song.wav", tone(8, SR, 520), SR), "used")
    os.symlink("loop_b.wav", jazz / "loop_a.wav")                              # a link loop of files
    os.symlink("loop_a.wav", jazz / "loop_b.wav")
    add(jazz / "loop_a.wav", "not a regular file")
    add(jazz / "loop_b.wav", "not a regular file")
    os.symlink(".", jazz / "dirloop")                                          # a folder loop: never walked
    (jazz / "notes.txt").write_text("liner notes")
    add(jazz / "notes.txt", "extension")
    pop.mkdir()
    (pop / "broken.wav").write_bytes(b"RIFF....WAVEjunk")
    return root, expected


def test_every_bad_input_has_its_expected_outcome(corpus):
    root, expected = corpus
    m = dataset.build_manifest(root, ["rock", "jazz"], 3, 7.5, 1.0, SR, WINDOW, 1e-5, seed=0)
    outcome = {}
    for source, rows in m.groupby("source"):
        row = rows.iloc[0]
        outcome[source] = "used" if row.status != "skipped" else row.reason
    assert set(outcome) == set(expected), set(outcome) ^ set(expected)
    for source, want in expected.items():
        if want == "used":
            assert outcome[source] == "used", (source, outcome[source])
        else:
            assert want in outcome[source], (source, outcome[source])
    used = m[m.status != "skipped"]
    assert used.track_id.is_unique and {"rock/dup.wav", "jazz/dup.wav"} <= set(used.track_id)
    assert 'jazz/Café <b>&"Ünïcode" song.wav' in set(used.track_id)


def test_genre_with_no_usable_file_is_a_clear_error(corpus):
    root, _ = corpus
    with pytest.raises(dataset.DatasetError, match=r"genre 'pop' has 0 usable recording.*dataset.folds"):
        dataset.build_manifest(root, ["rock", "jazz", "pop"], 3, 7.5, 1.0, SR, WINDOW, 1e-5, seed=0)


def test_names_from_user_folders_are_safe_in_paths_and_html(tmp_path):
    for hostile in ("../../etc/passwd", "..", "/abs/path", "a/../../b", ".hidden", "Café <b>&\"x\""):
        name = listening.safe_name(hostile)
        assert "/" not in name and not name.startswith(".") and ".." not in name and name
    items = [dict(fold=1, genre="rock", track_id="rock/<script>alert(1)</script>.wav", segment=0, versions=[
        dict(name="original", file="rock/x_original.wav", cnn2d=None, cnn1d="<img src=x onerror=alert(1)>")])]
    samples = tmp_path / "fold1.json"
    samples.write_text(__import__("json").dumps(items))
    page = tmp_path / "index.html"
    listening.render_page(page, {}, [], [samples], {1: "audio/fold1"}, "folder <i>x</i>")
    text = page.read_text()
    assert "<script>alert" not in text and "<img src=x" not in text and "<i>x</i>" not in text
    assert html.escape("rock/<script>alert(1)</script>.wav") in text
