"""Planning a run on a large collection, without audio: jobs, largest shard, disk, critical path.

For a simulated GTZAN-shaped collection of N tracks (one 30 s clip each, 10 genres, the paper
preset presets/gtzan-paper.yaml over params.yaml; with --default, params.yaml alone: the
demo's 5 s clips), the manifest is written as the manifest step would write it
(``dataset.assign_folds`` and ``dataset.assign_parts``: the real fold and part assignment),
then Snakemake plans the whole workflow on it in-process (the real job graph, the same one
``snakemake -n`` shows). Printed per N: the job count of each rule, the critical path in
jobs (the longest chain of dependent jobs: what bounds the run on an unlimited cluster),
the largest shard and the disk footprint of each step's outputs (rows x row size:
float32 audio and spectrograms, an attack's float16 perturbation; uncompressed, and in
brackets as stored, at the compression ratio measured per kind; the study: its chosen clips in float32,
the shipped clips it keeps in 16-bit PCM (every one, or with ``study.keep_audio:
listening`` the listening page's clips; per source and path the clean rebuild and,
per eps, each attack, its spectrum-matched null, its untrained-source twin and every noise
draw), and one score row per segment of every shipped clip).

    python bench/scale.py                      # GTZAN (1 000), 25 000 and 100 000 tracks
    python bench/scale.py --tracks 1000 5000 --max-segments 2000
    python bench/scale.py --default            # the default run (240 demo clips): compare with `du -sb data/*`
    python bench/scale.py --json               # also one JSON line of every figure (compare commits)
"""
from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path

import pandas as pd
import yaml
from snakemake.utils import update_config

from crossrep import MODELS, dataset
from crossrep.audio import segment_starts
from crossrep.dvc_stages import load_jobs
from crossrep.features import SpectrogramConfig
from crossrep.study import paths_of
from crossrep.study.clips import clips_per_part

REPO = Path(__file__).resolve().parents[1]
FLOAT, PCM16 = 4, 2
SCORE_ROW_LABELS = 185  # bytes per study score row beside its softmaxes (measured: 100 000 rows by ShardWriter)
# stored / uncompressed bytes with shuffle+gzip-1, by bench/compression.py on the default run's
# shards (synthetic audio written as 16-bit WAVs, as GTZAN's are; its spectrograms may compress
# differently): segments and the study's clips (float32 audio), spectrograms (float32 dB), an
# attack's float16 perturbation (BIM, STFT), the study's 16-bit audio and its score rows
COMPRESSED = {"segments": 0.47, "study_clips": 0.47, "spectrograms": 0.79, "adversarial": 0.29,
              "study_perturb": 0.81, "study_score": 0.76}


def bench_params(paper: bool, max_segments: int | None) -> dict:
    """params.yaml, with the GTZAN paper preset laid over it when ``paper``."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    if paper:
        update_config(params, yaml.safe_load((REPO / "presets/gtzan-paper.yaml").read_text()))
    if max_segments:
        params["shards"]["max_segments"] = max_segments
    return params


def simulated_manifest(tracks: int, params: dict) -> pd.DataFrame:
    ds, sr, seg = params["dataset"], params["audio"]["sample_rate"], params["segment"]
    clip = int(round(ds["clip_seconds"] * sr))
    rows = [dict(track_id=f"{g}/{g}.{i:06d}.wav", source=f"{g}/{g}.{i:06d}.wav", genre=g, label=k, fold=0, part=0,
                 offset=0, samples=clip, status="ok", reason="")
            for k, g in enumerate(ds["genres"]) for i in range(tracks // len(ds["genres"]))]
    manifest = pd.DataFrame(rows, columns=dataset.COLUMNS)
    dataset.assign_folds(manifest, ds["genres"], ds["folds"], params["seed"])
    dataset.assign_parts(manifest, params["shards"]["max_segments"], clip, seg["window"], seg["overlap"])
    return manifest


def plan(manifest: pd.DataFrame, params: dict) -> tuple[Counter, int, float]:
    """(jobs per rule, critical path in jobs, seconds Snakemake took to plan) of the whole workflow."""
    with tempfile.TemporaryDirectory() as tmp:
        wf = Path(tmp)
        shutil.copy(REPO / "Snakefile", wf)
        shutil.copytree(REPO / "workflow", wf / "workflow")
        shutil.copytree(REPO / "envs", wf / "envs")
        for genre in params["dataset"]["genres"]:
            (wf / "gtzan" / genre).mkdir(parents=True)
        params = dict(params, dataset=dict(params["dataset"], root="gtzan"))
        (wf / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        (wf / "data").mkdir()
        manifest.to_csv(wf / "data" / "manifest.csv", index=False)
        start = time.perf_counter()
        workflow, jobs = load_jobs(wf / "Snakefile", [], forceall=False)
        seconds = time.perf_counter() - start
        depth: dict = {}

        def chain(job) -> int:     # jobs on the longest dependency chain ending at ``job``
            if job not in depth:
                depth[job] = 1 + max((chain(d) for d in workflow.dag.dependencies[job]), default=0)
            return depth[job]

        longest = max(chain(j) for j in sorted(jobs, key=lambda j: j.jobid))
        return Counter(j.rule.name for j in jobs), longest, seconds


def footprint(manifest: pd.DataFrame, params: dict) -> tuple[dict, dict]:
    """({step: bytes}, {step: bytes of its largest shard}) of the per-part steps and the study."""
    sr, seg, ds = params["audio"]["sample_rate"], params["segment"], params["dataset"]
    cfg = SpectrogramConfig.from_params(params["spectrogram"], sr)
    frames = cfg.n_frames(seg["window"])
    spec = {rep: cfg.n_bins(rep) * frames * FLOAT for rep in ("stft", "mel")}
    clip = int(round(ds["clip_seconds"] * sr))
    per_clip = len(segment_starts(clip, seg["window"], seg["overlap"]))
    rows = manifest[manifest.status != "skipped"].groupby(["fold", "part"]).size() * per_clip
    attacks = len(params["attack"]["methods"])
    # an attack's shard holds its perturbation in float16 (half a float32 spectrogram)
    row_bytes = {"segments": seg["window"] * FLOAT, "spectrograms": sum(spec.values()),
                 "adversarial": attacks * sum(spec.values()) // 2}
    largest_row = {"segments": seg["window"] * FLOAT, "spectrograms": spec["stft"], "adversarial": spec["stft"] // 2}
    total = {step: int(rows.sum()) * b for step, b in row_bytes.items()}
    largest = {step: int(rows.max()) * b for step, b in largest_row.items()}
    per_genre = params["study"]["clips_per_genre"]
    studied = len(manifest) if per_genre is None else per_genre * len(ds["genres"]) * ds["folds"]
    total["study_clips"] = studied * clip * FLOAT
    # shipped clips per studied clip and source: per path the clean rebuild, and per eps every
    # attack with its null and its untrained twin, and every noise draw
    per_eps = 3 * attacks + params["study"]["noise_draws"]
    versions = {s: len(paths_of(s, v)) * (1 + per_eps * len(v["eps"])) for s, v in params["study"]["sources"].items()}
    per_fold = studied // ds["folds"]
    per_part = min(per_fold, clips_per_part(params) or per_fold)
    # study.keep_audio: listening keeps the listening page's clips only
    kept = studied if params["study"]["keep_audio"] == "all" else min(params["study"]["listening_clips"], per_part)
    total["study_perturb"] = kept * sum(versions.values()) * clip * PCM16
    # one score row per segment of every shipped clip: each target's softmax in float32 and
    # ~185 bytes of labels (perturbation, eps, draw, path, track, segment, genre; strings dominate)
    targets = len(MODELS) + len(params["study"]["held_out"])
    score_row = targets * len(ds["genres"]) * FLOAT + SCORE_ROW_LABELS
    total["study_score"] = studied * sum(versions.values()) * per_clip * score_row
    largest["study_clips"] = per_part * clip * FLOAT
    largest["study_perturb"] = min(kept, per_part) * max(versions.values()) * clip * PCM16
    largest["study_score"] = per_part * max(versions.values()) * per_clip * score_row
    return total, largest


def stored(total: dict) -> dict:
    """Each step's bytes as its shards store them: compressed (``shards.COMPRESSION``) at the
    ratio bench/compression.py measured on the default run's shards of that kind."""
    return {step: n * COMPRESSED[step] for step, n in total.items()}


def gb(n: float) -> str:
    return f"{n / 1e9:,.1f} GB" if n >= 1e8 else f"{n / 1e6:,.0f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tracks", type=int, nargs="+",
                        help="collection sizes (default: 1000 25000 100000; with --default, the demo's size)")
    parser.add_argument("--default", action="store_true", help="plan params.yaml alone, not the GTZAN preset")
    parser.add_argument("--max-segments", type=int, default=None, help="shards.max_segments (default: params.yaml)")
    parser.add_argument("--json", action="store_true", help="end with one JSON line of every figure")
    args = parser.parse_args()
    params = bench_params(not args.default, args.max_segments)
    ds = params["dataset"]
    tracks = args.tracks or ([ds["synthetic"]["tracks_per_genre"] * len(ds["genres"])] if args.default
                             else [1000, 25000, 100000])
    print(f"{'params.yaml' if args.default else 'paper preset'}, "
          f"shards.max_segments={params['shards']['max_segments']}, "
          f"study.clips_per_genre={params['study']['clips_per_genre']}, {ds['folds']} folds, "
          f"{ds['clip_seconds']:g} s clips")
    results = {}
    for n in tracks:
        manifest = simulated_manifest(n, params)
        jobs, longest, seconds = plan(manifest, params)
        total, largest = footprint(manifest, params)
        parts = manifest.groupby("fold").part.nunique()
        results[n] = dict(jobs=jobs, longest=longest, seconds=seconds, total=total, largest=largest,
                          parts=f"{parts.min()}-{parts.max()}" if parts.min() != parts.max() else str(parts.min()))
    rules = sorted({r for res in results.values() for r in res["jobs"]}, key=lambda r: (r.startswith("all"), r))
    header = "| | " + " | ".join(f"{n:,} tracks" for n in results) + " |"
    print(header + "\n|" + " --- |" * (len(results) + 1))

    def row(name, cell):
        print(f"| {name} | " + " | ".join(cell(res) for res in results.values()) + " |")

    row("shard parts per fold", lambda r: r["parts"])
    for rule in rules:
        row(f"jobs: {rule}", lambda r, rule=rule: str(r["jobs"].get(rule, 0)))
    row("jobs in all", lambda r: str(sum(r["jobs"].values())))
    row("critical path (jobs)", lambda r: str(r["longest"]))
    steps = ("segments", "spectrograms", "adversarial", "study_clips", "study_perturb", "study_score")
    for step in steps:
        row(f"largest shard: {step}", lambda r, step=step: gb(r["largest"][step]))
    for step in steps:
        row(f"disk: {step}", lambda r, step=step: f"{gb(r['total'][step])} ({gb(stored(r['total'])[step])})")
    row("disk: all steps", lambda r: f"{gb(sum(r['total'].values()))} ({gb(sum(stored(r['total']).values()))})")
    row("Snakemake planning time", lambda r: f"{r['seconds']:.0f} s")
    if args.json:
        print(json.dumps(dict(bench="scale", max_segments=params["shards"]["max_segments"], tracks={
            n: dict(jobs=dict(r["jobs"]), jobs_total=sum(r["jobs"].values()), critical_path=r["longest"],
                    disk_bytes=r["total"], disk_stored_bytes=stored(r["total"]), largest_shard_bytes=r["largest"],
                    planning_seconds=r["seconds"])
            for n, r in results.items()})))


if __name__ == "__main__":
    main()
