"""Listening samples (16-bit WAVs) and the offline listening page ``reports/index.html``.

Like the authors' page: per genre, the original segment, its clean rebuild and its
adversarial rebuilds, with the 2D CNN's and the 1D CNN's predictions and the SNRs. All
paths are relative (the folder works offline); every name from the data is HTML-escaped
and file names are reduced to a safe character set (no path traversal).
"""
from __future__ import annotations

import html
import json
import re
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import pandas as pd

from .audio import from_pcm16, write_wav
from .shard_rows import ShardRows
from .shards import atomic_path, open_shard, part_paths, read_csv_parts, read_parts, read_strings, row_keys
from .study import CLEAN as STUDY_CLEAN
from .study import MODEL_NAME, targets_in
from .study.summary import read_scores


def safe_name(text: str) -> str:
    """A file-name component: letters, digits, dot, dash, underscore; never '..' or hidden."""
    name = re.sub(r"\.{2,}", ".", re.sub(r"[^A-Za-z0-9._-]+", "_", text)).strip("._") or "item"
    return name[:80]


def _predictions(paths) -> np.ndarray:
    return read_parts(paths, "probs")["probs"].argmax(1)


def write_samples(fold: int, segments_path, out_dir, out_json, sources: dict, params: dict):
    """WAVs and metadata for ``reconstruction.listening_tracks_per_genre`` tracks per genre of
    one fold, each version rebuilt from its spectrogram as ``steps.transfer`` rebuilt it
    for its scores (row by row: the same audio).

    ``sources``: {"original": {"cnn1d": prediction shard},
                  "rep/condition": {"spectrograms": clean spectrogram shard, "cnn2d": shard with
                                    probs (an attack's adversarial shard: its perturbation is
                                    added), "cnn1d": shard, "snr": csv}}
    Each shard (and ``segments_path``) may be a fold's list of parts. All list the fold's
    segments in the same order, so one row index addresses them all.
    """
    from .features import Spectrogram, SpectrogramConfig  # torch: only this step needs it, not the page
    from .reconstruction import rebuild

    per_genre, sample_rate = params["reconstruction"]["listening_tracks_per_genre"], params["audio"]["sample_rate"]
    transform = Spectrogram(SpectrogramConfig.from_params(params["spectrogram"], sample_rate))
    out_dir, out_json = Path(out_dir), Path(out_json)
    versions = {name: dict(src, cnn2d=_predictions(src["cnn2d"]), cnn1d=_predictions(src["cnn1d"]),
                           snr=read_csv_parts(src["snr"]))
                for name, src in sources.items() if name != "original"}
    original_1d = _predictions(sources["original"]["cnn1d"])
    with ExitStack() as stack:
        seg = stack.enter_context(ShardRows(segments_path, "audio"))
        genres = json.loads(seg.files[0].attrs["genres"])
        clean_specs = {name: stack.enter_context(ShardRows(v["spectrograms"], "spec")) for name, v in versions.items()}
        perturbations = {name: stack.enter_context(ShardRows(sources[name]["cnn2d"], "perturbation"))
                         for name in versions if not name.endswith("/clean")}
        tracks, labels, segments = seg.track_ids, seg.labels, seg.segments
        picks = []
        for label in np.unique(labels):
            for track in sorted(set(tracks[labels == label]))[:per_genre]:
                rows = np.flatnonzero(tracks == track)
                picks.append(int(rows[len(rows) // 2]))  # the middle segment of the track
        items = []
        for row in picks:
            genre, track = genres[labels[row]], str(tracks[row])
            stem = f"{safe_name(genre)}/{safe_name(track)}_seg{segments[row]}"
            original = seg.read([row])
            write_wav(out_dir / f"{stem}_original.wav", original[0], sample_rate)
            entries = [dict(name="original", file=f"{stem}_original.wav", cnn2d=None,
                            cnn1d=genres[original_1d[row]])]
            for name, v in versions.items():
                spec = clean_specs[name].read([row])
                if name in perturbations:   # as shards.read_spectrograms adds it
                    spec = spec + perturbations[name].read([row])
                rebuilt = rebuild(transform, name.split("/")[0], spec, original, row_keys([track], [segments[row]]),
                                  params)
                write_wav(out_dir / f"{stem}_{safe_name(name)}.wav", rebuilt[0], sample_rate)
                snr = v["snr"].iloc[row]
                entries.append(dict(name=name, file=f"{stem}_{safe_name(name)}.wav", cnn2d=genres[v["cnn2d"][row]],
                                    cnn1d=genres[v["cnn1d"][row]], true_snr_db=_num(snr["true_snr_db"]),
                                    snr_vs_original_db=_num(snr["snr_vs_original_db"]),
                                    level_ratio_db=_num(snr["level_ratio_db"])))
            items.append(dict(fold=fold, genre=genre, track_id=track, segment=int(segments[row]), versions=entries))
    with atomic_path(out_json) as tmp:
        tmp.write_text(json.dumps(items, indent=1))


def _num(value):
    value = float(value)
    return round(value, 2) if np.isfinite(value) else ("inf" if value > 0 else None)


def _table_html(csv_path: Path, title: str) -> str:
    """A table from its CSV, followed by its note: the text under the table in the .md
    version of it (units, what the columns and abbreviations mean)."""
    frame = pd.read_csv(csv_path, keep_default_na=False)  # the Attack column's "None" is a name, not NaN
    cols = [c for c in frame.columns if not c.endswith(("_mean", "_sd", "_n"))]
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
                   for row in frame[cols].itertuples(index=False))
    md = csv_path.with_suffix(".md")
    lines = md.read_text(encoding="utf-8").splitlines() if md.exists() else []
    last_row = max((i for i, line in enumerate(lines) if line.startswith("|")), default=len(lines))
    note = " ".join(line for line in lines[last_row + 1:] if line.strip())
    note_html = f'<p class="note">{html.escape(note)}</p>' if note else ""
    return (f"<h3>{html.escape(title)}</h3><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
            + note_html)


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>crossrep: listening page</title>
<link rel="icon" href="data:,">
<style>
body{{font-family:sans-serif;max-width:1100px;margin:auto;padding:1em;color:#222}}
table{{border-collapse:collapse;margin:.5em 0 1.5em}} td,th{{border:1px solid #bbb;padding:3px 8px;font-size:14px}}
th{{background:#eee}} img{{max-width:100%;border:1px solid #ddd;margin:.5em 0}} img.small{{width:32%}}
audio{{height:32px}}
.note{{color:#555;font-size:14px}}
</style></head><body>
<h1>Cross-representation transferability: listening page</h1>
<p class="note">Spectrogram attacks on the 2D CNN, waveforms rebuilt from the perturbed spectrograms (STFT with
the clean phase; mel by Griffin-Lim), and the 1D CNN's predictions on them. Dataset: {dataset}. True SNR is
10·log10(P(x)/P(δ)) against the clean rebuild; the level ratio is the authors' figure (not an SNR).</p>
<h2>Tables</h2>{tables}
<h2>Figures</h2>{figures}
<h2>Audio samples</h2>{samples}
{extra}
</body></html>
"""


def render_page(out_html, tables: dict, figures: list, sample_jsons: list, audio_prefix: dict, dataset: str,
                extra: str = ""):
    """``tables``: {title: csv}; ``figures``: png paths; ``audio_prefix``: {fold: relative folder};
    ``extra``: a further HTML section (the transfer study's), already escaped."""
    out_html = Path(out_html)
    base = out_html.parent
    tables_html = "".join(_table_html(Path(p), t) for t, p in tables.items())
    figures_html = "".join(  # confusion matrices three to a row
        f'<img src="{html.escape(Path(p).relative_to(base).as_posix())}" alt="{html.escape(Path(p).stem)}"'
        f'{" class=small" if Path(p).parent.name == "confusion" else ""}>' for p in figures)
    items = [item for path in sample_jsons for item in json.loads(Path(path).read_text())]
    samples = []
    for genre in sorted({i["genre"] for i in items}):
        samples.append(f"<h3>{html.escape(genre)}</h3>")
        for item in (i for i in items if i["genre"] == genre):
            rows = []
            for v in item["versions"]:
                src = f"{audio_prefix[item['fold']]}/{v['file']}"
                cells = [v["name"], v["cnn2d"] or "—", v["cnn1d"], v.get("true_snr_db", "—"),
                         v.get("snr_vs_original_db", "—"), v.get("level_ratio_db", "—")]
                rows.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells)
                            + f'<td><audio controls preload="none" src="{html.escape(src)}"></audio></td></tr>')
            samples.append(
                f"<p>{html.escape(item['track_id'])}, segment {item['segment']} (fold {item['fold']})</p>"
                "<table><thead><tr><th>version</th><th>2D CNN prediction</th><th>1D CNN prediction</th>"
                "<th>true SNR (dB)</th><th>SNR vs original (dB)</th><th>level ratio (dB)</th><th>audio</th>"
                "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>")
    with atomic_path(out_html) as tmp:
        tmp.write_text(PAGE.format(dataset=html.escape(dataset), tables=tables_html, figures=figures_html,
                                   samples="".join(samples), extra=extra), encoding="utf-8")


# -- the transfer study's section ------------------------------------------------------------
def fmt(value) -> str:
    """A figure with two decimals, or a dash where there is none."""
    return "—" if value is None or not np.isfinite(value) else f"{value:.2f}"


def study_section(audio: dict, scores: dict, clips: pd.DataFrame, out_dir, n_clips: int, sample_rate: int,
                  classes, labels: dict) -> str:
    """16-bit WAVs of the first ``n_clips`` studied clips of the first fold at every budget of
    every source and path (the clean rebuild, each attack, its spectrum-matched null and the
    noise control's first draw), and the HTML section listing them with each target's
    sum-rule genre, the true SNR and ViSQOL; ``labels``: (source, path) -> its name. Returns
    the section."""
    out_dir = Path(out_dir)
    rows_html, targets = [], []
    for source, by_fold in audio.items():
        fold = min(by_fold)
        segments, probs = read_scores(scores[source][fold])
        targets = targets_in(probs)  # every source's scores have the same targets
        remaining = n_clips
        for part in part_paths(by_fold[fold]):
            if remaining <= 0:
                break
            with open_shard(part, "audio", "kind", "eps", "draw", "path", "track_id") as h5:
                tracks, kinds, paths = (read_strings(h5[name]) for name in ("track_id", "kind", "path"))
                eps, draws = h5["eps"][...], h5["draw"][...]
                chosen = list(dict.fromkeys(tracks))[:remaining]
                remaining -= len(chosen)
                heard = np.isin(tracks, chosen) & (draws == 0) & ~np.char.endswith(kinds.astype(str), "_init")
                for row in np.flatnonzero(heard):
                    key = dict(track_id=tracks[row], kind=kinds[row], eps=float(eps[row]), path=paths[row], draw=0)
                    stem = f"{safe_name(key['track_id'])}_{key['path']}_{key['kind']}_eps{key['eps']:g}"
                    name = f"{safe_name(source)}/{stem}.wav"
                    write_wav(out_dir / name, from_pcm16(h5["audio"][row]), sample_rate)
                    on_clip = np.flatnonzero((segments[list(key)] == pd.Series(key)).all(axis=1).to_numpy())
                    genres = {t: classes[int(p[on_clip].sum(0).argmax())] for t, p in probs.items()}
                    quality = clips[(clips["source"] == source) & (clips["fold"] == fold)
                                    & (clips[list(key)] == pd.Series(key)).all(axis=1)]
                    q = quality.iloc[0] if len(quality) else {}
                    perturbation = "clean rebuild" if key["kind"] == STUDY_CLEAN else key["kind"]
                    cells = [labels[source, key["path"]], key["track_id"], perturbation, f"{key['eps']:g}",
                             *(genres[t] for t in targets), fmt(q.get("true_snr_db")), fmt(q.get("visqol"))]
                    src = html.escape(f"{out_dir.name}/{name}")
                    rows_html.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells)
                                     + f'<td><audio controls preload="none" src="{src}"></audio></td></tr>')
    head = "".join(f"<th>{h}</th>" for h in ("source (path)", "clip", "perturbation", "eps",
                                             *(MODEL_NAME[t] for t in targets),
                                             "true SNR (dB)", "ViSQOL", "audio"))
    return ("<h2>Transfer study: the budgets, heard</h2><p class=\"note\">Whole clips of the first fold at every "
            "budget of every source (eps in dB for a spectrogram source, x the clip's RMS for a waveform source); each "
            "model's "
            "sum-rule genre on the re-segmented clip; true SNR against the same path's clean rebuild; "
            f"ViSQOL v3 (audio mode, ceiling 4.73) where computed.</p><table><thead><tr>{head}</tr></thead><tbody>"
            + "".join(rows_html) + "</tbody></table>")
