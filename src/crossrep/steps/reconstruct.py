"""Rule ``reconstruct``: waveforms rebuilt from (clean or adversarial) dB spectrograms."""
from __future__ import annotations

import numpy as np

from ..features import Spectrogram, SpectrogramConfig
from ..reconstruction import invert
from ..runtime import log, progress
from ..shards import assert_aligned, batches, open_shard, read_strings, row_keys, row_seeds, write_shard


def run(*, segments, source, out, representation: str, params: dict) -> None:
    """Rebuild every row of the spectrogram shard ``source`` into the audio shard ``out``.

    STFT: the spectrogram's scale undone with the clean segment's reference from
    ``segments`` (its ORIGINAL phase, or its Im X and offset on the real-part scale). Mel:
    the scale undone (with the clean peak on the ref-max scale), NNLS to a linear
    magnitude, then Griffin-Lim whose random initial phase is drawn per row from its identity
    (``shards.row_seeds``), so neither the batch nor the shard part a row falls in matters.
    """
    config = SpectrogramConfig.from_params(params["spectrogram"], params["audio"]["sample_rate"])
    iterations = params["reconstruction"]["griffin_lim_iterations"]
    transform = Spectrogram(config)
    with open_shard(segments, "audio") as seg, open_shard(source, "spec") as spec:
        assert_aligned(seg, spec)
        n, window = seg["audio"].shape
        attrs = dict(representation=representation, source=str(source), fold=seg.attrs["fold"],
                     part=seg.attrs.get("part", 1),
                     griffin_lim_iterations=iterations if representation == "mel" else 0)
        with write_shard(out, **attrs) as shard:
            parts = list(batches(n, params["reconstruction"]["batch_size"]))
            for part in progress(parts, f"rebuild {representation}"):
                reference = transform.reference(representation, seg["audio"][part])
                tracks, segments_ = list(read_strings(seg["track_id"], part)), seg["segment"][part]
                audio_rebuilt = invert(transform, representation, spec["spec"][part], window, reference=reference,
                                       griffin_lim_iterations=iterations,
                                       seed=row_seeds(params["seed"], row_keys(tracks, segments_)),
                                       nnls_iterations=params["reconstruction"]["nnls_iterations"])
                shard.append(audio=audio_rebuilt.astype(np.float32), label=seg["label"][part],
                             track_id=tracks, segment=segments_)
    log.info("rebuilt %d %s segments from %s", n, representation, source)
