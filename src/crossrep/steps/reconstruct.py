"""Rule ``reconstruct``: waveforms rebuilt from (clean or adversarial) dB spectrograms."""
from __future__ import annotations

import numpy as np

from ..features import Spectrogram, SpectrogramConfig
from ..runtime import log, progress
from ..shards import assert_aligned, batches, open_shard, read_strings, write_shard


def run(*, segments, source, out, representation: str, params: dict) -> None:
    """Rebuild every row of the spectrogram shard ``source`` into the audio shard ``out``.

    STFT: the spectrogram's scale undone with the clean segment's reference from
    ``segments`` (its ORIGINAL phase, or its Im X and offset on the real-part scale). Mel:
    the scale undone (with the clean peak on the ref-max scale), NNLS to a linear
    magnitude, then Griffin-Lim seeded per batch (``seed`` + batch index).

    Reads: ``seed``, ``audio.sample_rate``, ``spectrogram``, ``reconstruction.batch_size``,
    ``reconstruction.griffin_lim_iterations``, ``reconstruction.nnls_iterations``.
    """
    config = SpectrogramConfig.from_params(params["spectrogram"], params["audio"]["sample_rate"])
    iterations = params["reconstruction"]["griffin_lim_iterations"]
    transform = Spectrogram(config)
    with open_shard(segments, "audio") as seg, open_shard(source, "spec") as spec:
        assert_aligned(seg, spec)
        n, window = seg["audio"].shape
        attrs = dict(representation=representation, source=str(source), fold=seg.attrs["fold"],
                     griffin_lim_iterations=iterations if representation == "mel" else 0)
        with write_shard(out, **attrs) as shard:
            parts = list(batches(n, params["reconstruction"]["batch_size"]))
            for i, part in enumerate(progress(parts, f"rebuild {representation}")):
                reference = transform.reference(representation, seg["audio"][part])
                audio_rebuilt = transform.invert(representation, spec["spec"][part], window, reference=reference,
                                                 griffin_lim_iterations=iterations, seed=params["seed"] + i,
                                                 nnls_iterations=params["reconstruction"]["nnls_iterations"])
                shard.append(audio=audio_rebuilt.astype(np.float32), label=seg["label"][part],
                             track_id=list(read_strings(seg["track_id"], part)), segment=seg["segment"][part])
    log.info("rebuilt %d %s segments from %s", n, representation, source)
