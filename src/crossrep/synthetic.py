"""A synthetic 10-genre music dataset, generated deterministically from a seed.

Each genre is a *distribution* of arrangements rather than a fixed recipe: tempo and
metre, a drum pattern on a 16-step grid (with swing), a bass line style, a chord
progression and voicing style, a melody scale and density, instrument timbres
(additive harmonics, envelopes, vibrato, distortion) and a production filter. Every
track draws its own key, tempo, timbre and mix jitter, mutates its drum pattern, and
sometimes borrows another genre's progression, so classes overlap (blues/jazz,
rock/metal, pop/disco share traits) yet stay learnable. Named after GTZAN's genres.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from . import GTZAN_GENRES

SCALES = {
    "major": [0, 2, 4, 5, 7, 9, 11], "minor": [0, 2, 3, 5, 7, 8, 10],
    "pent_major": [0, 2, 4, 7, 9], "pent_minor": [0, 3, 5, 7, 10],
    "blues": [0, 3, 5, 6, 7, 10], "dorian": [0, 2, 3, 5, 7, 9, 10],
    "phrygian": [0, 1, 3, 5, 7, 8, 10],
}
CHORDS = {
    "maj": [0, 4, 7], "min": [0, 3, 7], "dom7": [0, 4, 7, 10], "min7": [0, 3, 7, 10],
    "maj7": [0, 4, 7, 11], "power": [0, 7, 12],
}
# timbre: (harmonic rolloff exponent, number of harmonics, odd harmonics only,
#          attack s, decay s, vibrato depth)
TIMBRES = {
    "string": (1.0, 10, False, 0.08, 2.0, 0.006), "guitar": (1.3, 12, False, 0.004, 0.45, 0.0),
    "piano": (1.7, 10, False, 0.003, 0.7, 0.0), "organ": (0.9, 6, False, 0.01, 5.0, 0.0),
    "square": (1.0, 9, True, 0.01, 1.5, 0.0), "saw": (1.0, 12, False, 0.01, 1.0, 0.0),
    "sax": (0.8, 9, False, 0.03, 1.5, 0.004), "sine": (3.0, 2, False, 0.01, 1.2, 0.0),
    "pluck": (1.5, 8, False, 0.002, 0.15, 0.0),
}


def _steps(*onsets, p=1.0):
    pattern = np.zeros(16)
    pattern[list(onsets)] = p
    return pattern


@dataclass(frozen=True)
class Style:
    tempo: tuple[float, float]          # mean, sd (BPM)
    beats: tuple[int, ...]              # metres to draw from (beats per bar)
    swing: float                        # 0 straight .. 1 triplet shuffle
    kick: np.ndarray                    # onset probability per 16th step
    snare: np.ndarray
    hat: np.ndarray
    drums: float                        # drum level
    progression: tuple                  # ((root semitone, chord quality), ...) one per bar
    bass: str
    bass_timbre: str
    comp: str                           # chord playing style
    comp_timbre: str
    lead_timbre: str
    scale: str
    notes_per_bar: float
    distortion: float                   # tanh drive on the chords (1 = clean)
    brightness: float                   # low-pass cutoff, Hz
    noise: float                        # hiss level


STYLES = {
    "blues": Style((88, 12), (4,), 0.8, _steps(0, 8, 10, p=0.9), _steps(4, 12), np.tile([1, 0, .3, 0], 4) * .8,
                   0.7, ((0, "dom7"), (5, "dom7"), (0, "dom7"), (7, "dom7")), "walking", "guitar",
                   "strum", "guitar", "guitar", "blues", 5, 2.0, 5000, 0.004),
    "classical": Style((72, 15), (3, 4), 0.0, np.zeros(16), np.zeros(16), np.zeros(16), 0.0,
                       ((0, "maj"), (5, "maj"), (7, "maj"), (0, "maj")), "sustain", "string",
                       "arpeggio", "piano", "string", "major", 4, 1.0, 7000, 0.002),
    "country": Style((112, 12), (4,), 0.15, _steps(0, 8, p=0.95), _steps(4, 12), np.tile([1, 0, 1, 0], 4) * .7,
                     0.6, ((0, "maj"), (5, "maj"), (7, "maj"), (0, "maj")), "rootfifth", "pluck",
                     "strum", "guitar", "pluck", "pent_major", 6, 1.2, 8000, 0.002),
    "disco": Style((120, 5), (4,), 0.0, _steps(0, 4, 8, 12), _steps(4, 12), _steps(2, 6, 10, 14),
                   0.9, ((0, "min7"), (5, "min7"), (0, "min7"), (5, "min7")), "octave", "saw",
                   "stab", "organ", "string", "dorian", 4, 1.0, 9000, 0.001),
    "hiphop": Style((90, 7), (4,), 0.35, _steps(0, 3, 7, 10, p=0.9), _steps(4, 12), np.ones(16) * .75,
                    1.0, ((0, "min7"), (8, "maj7"), (3, "maj7"), (10, "dom7")), "sub", "sine",
                    "pad", "piano", "sine", "pent_minor", 2, 1.0, 4000, 0.003),
    "jazz": Style((130, 25), (4, 3), 0.7, _steps(0, p=0.3), _steps(6, 14, p=0.25), _steps(0, 4, 6, 8, 12, 14, p=.8),
                  0.4, ((2, "min7"), (7, "dom7"), (0, "maj7"), (9, "min7")), "walking", "pluck",
                  "comp", "piano", "sax", "dorian", 7, 1.0, 6000, 0.002),
    "metal": Style((155, 20), (4,), 0.0, np.ones(16) * .8, _steps(4, 12), np.tile([1, 0, 1, 0], 4),
                   1.0, ((0, "power"), (3, "power"), (5, "power"), (1, "power")), "root16", "saw",
                   "chug", "saw", "guitar", "phrygian", 6, 9.0, 7000, 0.01),
    "pop": Style((112, 10), (4,), 0.0, _steps(0, 6, 8, p=0.9), _steps(4, 12), np.tile([1, 0, 1, 0], 4) * .8,
                 0.8, ((0, "maj"), (7, "maj"), (9, "min"), (5, "maj")), "root8", "square",
                 "pad", "square", "square", "major", 5, 1.0, 9000, 0.001),
    "reggae": Style((76, 8), (4,), 0.4, _steps(8), _steps(8), np.tile([1, 0, 1, 0], 4) * .6,
                    0.7, ((0, "min"), (5, "min"), (0, "min"), (7, "min")), "offbeat", "sine",
                    "skank", "organ", "organ", "minor", 3, 1.0, 5000, 0.002),
    "rock": Style((122, 15), (4,), 0.0, _steps(0, 8, 10, p=0.95), _steps(4, 12), np.tile([1, 0, 1, 0], 4) * .9,
                  0.9, ((0, "power"), (10, "power"), (5, "power"), (0, "power")), "root8", "saw",
                  "chug", "guitar", "guitar", "pent_minor", 4, 4.0, 7000, 0.004),
}


def midi_hz(note: float) -> float:
    return 440.0 * 2.0 ** ((note - 69) / 12)


class _Track:
    """Renders one clip; all randomness comes from ``rng``."""

    def __init__(self, style: Style, rng: np.random.Generator, sr: int, seconds: float, donors: list[Style]):
        self.s, self.rng, self.sr = style, rng, sr
        self.n = int(round(seconds * sr))
        self.tempo = float(np.clip(rng.normal(*style.tempo), 55, 200))
        self.beats = int(rng.choice(style.beats))
        self.step = 60.0 / self.tempo / 4
        self.key = 36 + int(rng.integers(0, 12))
        self.swing = float(np.clip(style.swing + rng.normal(0, 0.1), 0, 1))
        # sometimes borrow another genre's chord progression: classes overlap
        self.progression = style.progression if rng.random() > 0.2 else rng.choice(donors).progression
        self.jitter = lambda x, sd=0.15: x * float(np.exp(rng.normal(0, sd)))

    def onset(self, bar: int, step: int) -> float:
        shift = 0.667 * self.swing if step % 4 == 2 else (0.33 * self.swing if step % 2 else 0.0)
        return ((bar * self.beats * 4) + step + shift) * self.step

    @property
    def bars(self) -> int:
        return int(np.ceil(self.n / self.sr / (self.beats * 4 * self.step))) + 1

    def chord(self, bar):
        root, quality = self.progression[bar % len(self.progression)]
        return root, CHORDS[quality]

    def tone(self, out, t0, dur, note, timbre, gain, drive=1.0):
        rolloff, n_harm, odd, attack, decay, vib = TIMBRES[timbre]
        start = int(t0 * self.sr)
        length = min(int(dur * self.sr), self.n - start)
        if length <= 16 or start < 0:
            return
        t = np.arange(length) / self.sr
        f0 = midi_hz(note) * (1 + self.rng.normal(0, 0.002))
        phase = 2 * np.pi * f0 * (t + (vib / (2 * np.pi * 5.5)) * np.sin(2 * np.pi * 5.5 * t) * (vib > 0))
        harmonics = np.arange(1, n_harm + 1)
        if odd:
            harmonics = harmonics[harmonics % 2 == 1]
        harmonics = harmonics[harmonics * f0 < 0.45 * self.sr]
        amps = harmonics.astype(float) ** -self.jitter(rolloff, 0.1)
        wave = np.sin(np.outer(phase, harmonics) + self.rng.uniform(0, 2 * np.pi, len(harmonics))) @ amps
        env = np.minimum(1.0, t / self.jitter(attack)) * np.exp(-t / self.jitter(decay))
        release = min(length, int(0.01 * self.sr))
        env[-release:] *= np.linspace(1, 0, release)
        wave = wave * env / amps.sum()
        if drive > 1:
            wave = np.tanh(drive * wave) / np.tanh(drive)
        out[start:start + length] += gain * wave

    def drum(self, out, t0, kind, gain):
        start = int(t0 * self.sr)
        length = min(int(0.35 * self.sr), self.n - start)
        if length <= 16:
            return
        t = np.arange(length) / self.sr
        noise = self.rng.standard_normal(length)
        if kind == "kick":
            freq = 45 + 90 * np.exp(-t / 0.03)
            hit = np.sin(2 * np.pi * np.cumsum(freq) / self.sr) * np.exp(-t / 0.16)
        elif kind == "snare":
            hit = (0.7 * np.diff(noise, prepend=0) / 2 * np.exp(-t / 0.07)
                   + 0.5 * np.sin(2 * np.pi * 190 * t) * np.exp(-t / 0.05))
        else:  # hat
            hit = np.diff(noise, prepend=0) / 2 * np.exp(-t / self.jitter(0.025, 0.3))
        out[start:start + length] += gain * hit

    def render(self) -> np.ndarray:
        s, rng = self.s, self.rng
        steps = self.beats * 4
        drums, bass, comp, lead = (np.zeros(self.n) for _ in range(4))
        patterns = {}
        for name in ("kick", "snare", "hat"):
            p = getattr(s, name)[:steps].copy()
            flip = rng.random(steps) < 0.08       # per-track pattern mutation
            p[flip] = np.where(p[flip] > 0, 0.0, 0.5)
            patterns[name] = p
        scale = SCALES[s.scale]
        melody = int(rng.integers(0, len(scale)))
        for bar in range(self.bars):
            root, tones = self.chord(bar)
            base = self.key + root
            for step in range(steps):
                t = self.onset(bar, step)
                if s.drums:
                    for name, level in (("kick", 1.0), ("snare", 0.6), ("hat", 0.25)):
                        if rng.random() < patterns[name][step]:
                            self.drum(drums, t, name, level * rng.uniform(0.7, 1.0))
                self._bass(bass, bar, step, t, base, tones, patterns["kick"])
                self._comp(comp, bar, step, t, base, tones)
            for _ in range(rng.poisson(self.jitter(s.notes_per_bar, 0.3))):
                step = int(rng.integers(0, steps))
                melody = int(np.clip(melody + rng.integers(-2, 3), 0, 2 * len(scale) - 1))
                octave, degree = divmod(melody, len(scale))
                note = self.key + 36 + 12 * octave + scale[degree]
                self.tone(lead, self.onset(bar, step), self.step * rng.choice([1, 2, 4]), note, s.lead_timbre, 0.5)
        mix = (self.jitter(s.drums, 0.25) * drums + self.jitter(0.8) * bass
               + self.jitter(0.6) * comp + self.jitter(0.5) * lead)
        cutoff = min(self.jitter(s.brightness, 0.2), 0.45 * self.sr)
        from scipy import signal  # here, not at import: ~0.6 s of every job that imports this module

        mix = signal.sosfilt(signal.butter(2, cutoff, fs=self.sr, output="sos"), mix)
        mix += self.jitter(s.noise, 0.4) * rng.standard_normal(self.n)
        return (mix / (np.max(np.abs(mix)) + 1e-9) * rng.uniform(0.3, 0.9)).astype(np.float32)

    def _bass(self, out, bar, step, t, base, tones, kick):
        style, timbre, d = self.s.bass, self.s.bass_timbre, self.step
        fifth = base + 7 - 12 * (tones[1] == 7)
        if style == "sustain" and step == 0:
            self.tone(out, t, self.beats * 4 * d, base, timbre, 0.8)
        elif style == "root4" and step % 4 == 0:
            self.tone(out, t, 3 * d, base, timbre, 0.8)
        elif style == "root8" and step % 2 == 0:
            self.tone(out, t, 1.6 * d, base, timbre, 0.8)
        elif style == "root16":
            self.tone(out, t, 0.9 * d, base, timbre, 0.6, drive=3.0)
        elif style == "octave" and step % 2 == 0:
            self.tone(out, t, 1.5 * d, base + 12 * (step % 4 == 2), timbre, 0.8)
        elif style == "rootfifth" and step % 4 == 0:
            self.tone(out, t, 3 * d, base if step % 8 == 0 else fifth, timbre, 0.9)
        elif style == "walking" and step % 4 == 0:
            walk = [0, tones[1], tones[2], tones[2] + 2][(step // 4) % 4]
            self.tone(out, t, 3.5 * d, base + walk, timbre, 0.9)
        elif style == "sub" and kick[step] > 0:
            self.tone(out, t, 4 * d, base, timbre, 1.0)
        elif style == "offbeat" and step in (2, 3, 6, 10, 11, 14):
            self.tone(out, t, 1.8 * d, base + (7 if step in (6, 14) else 0), timbre, 1.0)

    def _comp(self, out, bar, step, t, base, tones):
        style, timbre, d, rng = self.s.comp, self.s.comp_timbre, self.step, self.rng
        voicing = [base + 24 + x for x in tones]
        drive = self.jitter(self.s.distortion, 0.3)

        def chord(dur, gain):
            for note in voicing:
                self.tone(out, t + rng.uniform(0, 0.01), dur, note, timbre, gain / len(voicing) * 2, drive)

        if style == "pad" and step == 0:
            chord(self.beats * 4 * d, 0.7)
        elif style == "strum" and step % 4 == 0:
            chord(3.5 * d, 0.8)
        elif style == "stab" and step % 4 == 2:
            chord(0.8 * d, 0.8)
        elif style == "skank" and step % 8 == 4:
            chord(0.9 * d, 0.9)
        elif style == "chug" and step % 2 == 0:
            chord(1.2 * d, 0.8)
        elif style == "comp" and rng.random() < 0.22:
            chord(2 * d, 0.7)
        elif style == "arpeggio" and step % 2 == 0:
            note = voicing[(step // 2) % len(voicing)] + 12 * ((step // 2) // len(voicing) % 2)
            self.tone(out, t, 4 * d, note, timbre, 0.8)


def generate_track(genre: str, index: int, seed: int, seconds: float, sample_rate: int) -> np.ndarray:
    """One clip of ``genre``; the same (genre, index, seed) always gives the same samples."""
    if genre not in STYLES:
        raise ValueError(f"synthetic genre {genre!r} unknown; choose from {', '.join(STYLES)}")
    rng = np.random.default_rng([seed, GTZAN_GENRES.index(genre), index])
    donors = [st for g, st in STYLES.items() if g != genre]
    return _Track(STYLES[genre], rng, sample_rate, seconds, donors).render()


def generate_dataset(root, genres, tracks_per_genre: int, seconds: float, sample_rate: int, seed: int,
                     progress=None) -> list[Path]:
    """Write ``root/<genre>/<genre>.000NN.wav`` (16-bit, GTZAN's layout); return the paths."""
    from .shards import atomic_path

    root = Path(root)
    jobs = [(g, i) for g in genres for i in range(tracks_per_genre)]
    paths = []
    for genre, i in (progress(jobs) if progress else jobs):
        path = root / genre / f"{genre}.{i:05d}.wav"
        with atomic_path(path) as tmp:
            sf.write(tmp, generate_track(genre, i, seed, seconds, sample_rate), sample_rate,
                     subtype="PCM_16", format="WAV")
        paths.append(path)
    return paths
