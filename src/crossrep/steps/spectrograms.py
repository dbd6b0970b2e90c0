"""Rule ``spectrograms``: dB spectrograms of one fold's segments, in batches."""
from __future__ import annotations

import json

from ..features import Spectrogram, SpectrogramConfig
from ..runtime import log, progress
from ..shards import batches, open_shard, read_strings, write_shard


def run(*, segments, out, representation: str, params: dict) -> None:
    """Write the ``representation`` (stft | mel) shard ``out`` of the segment shard ``segments``.
    """
    config = SpectrogramConfig.from_params(params["spectrogram"], params["audio"]["sample_rate"])
    transform = Spectrogram(config)
    with open_shard(segments, "audio", "track_id", "segment", "label") as src:
        n, window = src["audio"].shape
        attrs = dict(src.attrs, representation=representation,
                     config=json.dumps(config.__dict__), frames=config.n_frames(window))
        attrs.pop("complete", None), attrs.pop("rows", None)
        with write_shard(out, **attrs) as shard:
            for part in progress(list(batches(n, params["spectrogram"]["batch_size"])),
                                 f"{representation} fold {attrs['fold']}"):
                shard.append(spec=transform.db(representation, src["audio"][part]),
                             track_id=list(read_strings(src["track_id"], part)),
                             segment=src["segment"][part], label=src["label"][part])
    log.info("%s: %d %s spectrograms of %dx%d", out, n, representation,
             config.n_bins(representation), config.n_frames(window))
