"""Load and validate params.yaml: JSON schema first, then the cross-key rules.

Every error names the key (dotted path) and what is allowed, and is raised before
any job runs (the Snakefile calls :func:`validate` at start-up).
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

import jsonschema
import yaml

from .study import SPECTROGRAM_SOURCES, source_models, spectrogram_of


class ParamsError(ValueError):
    """params.yaml is invalid; the message names the key and the fix."""


def schema() -> dict:
    return yaml.safe_load(resources.files("crossrep").joinpath("params.schema.yaml").read_text())


def _resolved(node, root=None):
    """Inline local $refs so every error's schema node carries its own bounds."""
    root = node if root is None else root
    if isinstance(node, dict):
        if "$ref" in node:
            target = root
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            return _resolved(target, root)
        return {k: _resolved(v, root) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [_resolved(v, root) for v in node]
    return node


def load(path="params.yaml") -> dict:
    path = Path(path)
    try:
        params = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ParamsError(f"{path}: cannot read parameters ({exc})") from exc
    validate(params, source=str(path))
    return params


def select(params: dict, keys) -> dict:
    """The sub-tree of ``params`` at the dotted ``keys`` (same nesting, nothing else).

    A Snakemake rule hands its step exactly this (``params: config=...``): Snakemake reruns
    a job when it changes, and ``crossrep.dvc_stages`` lists the same keys in ``dvc.yaml``.
    """
    tree: dict = {}
    for key in keys:
        *parents, leaf = key.split(".")
        source, target = params, tree
        for part in parents:
            source, target = source[part], target.setdefault(part, {})
        target[leaf] = source[leaf]
    return tree


def leaf_keys(tree: dict, prefix: str = "") -> list[str]:
    """Dotted paths of every leaf of a nested mapping (lists are leaves)."""
    keys = []
    for name, value in tree.items():
        path = f"{prefix}{name}"
        keys += leaf_keys(value, path + ".") if isinstance(value, dict) and value else [path]
    return keys


def _key(error) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "(top level)"


def _allowed(schema: dict) -> str:
    """A short human description of what a schema node accepts."""
    if "enum" in schema:
        return "one of " + ", ".join(map(str, schema["enum"]))
    bounds = [f"{op} {schema[key]}" for key, op in (("minimum", ">="), ("exclusiveMinimum", ">"),
                                                    ("maximum", "<="), ("exclusiveMaximum", "<"))
              if key in schema]
    kind = schema.get("type", "")
    if kind == "array" and "items" in schema:
        kind = f"a list of {_allowed(schema['items']) or schema['items'].get('type', 'items')}"
    return " ".join(filter(None, [kind, " and ".join(bounds)]))


def _describe(error) -> str:
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        return f"{error.message}; allowed keys: {', '.join(allowed)}"
    if error.validator == "required":
        return f"{error.message}; add it (see params.yaml in the repository for the default)"
    allowed = _allowed(error.schema)
    return f"{error.message} (allowed: {allowed})" if allowed else error.message


def validate(params: dict, source: str = "params.yaml", base_dir: str | Path = ".") -> None:
    """Raise :class:`ParamsError` listing every problem in ``params``."""
    if not isinstance(params, dict):
        raise ParamsError(f"{source}: expected a mapping of sections, got {type(params).__name__}")
    validator = jsonschema.Draft202012Validator(_resolved(schema()))
    errors = sorted(validator.iter_errors(params), key=lambda e: list(map(str, e.absolute_path)))
    problems = [f"{_key(e)}: {_describe(e)}" for e in errors]
    if not problems:
        problems = _cross_checks(params, Path(base_dir))
    if problems:
        raise ParamsError(f"{source} is invalid:\n  - " + "\n  - ".join(problems))


def _cross_checks(p: dict, base_dir: Path) -> list[str]:
    """Rules that span several keys (the schema checks each key alone)."""
    from .audio import segment_starts
    from .shapes import cnn1d_output_length, cnn2d_output_shape  # arithmetic only: no torch at parse time

    problems = []
    sr = p["audio"]["sample_rate"]
    ds, seg, spec = p["dataset"], p["segment"], p["spectrogram"]
    clip = int(round(ds["clip_seconds"] * sr))
    if seg["window"] > clip:
        problems.append(f"segment.window: {seg['window']} samples is longer than a clip "
                        f"(dataset.clip_seconds={ds['clip_seconds']} -> {clip} samples); "
                        "raise clip_seconds or shorten the window")
    if ds["pad_tolerance_seconds"] >= ds["clip_seconds"]:
        problems.append("dataset.pad_tolerance_seconds: must be smaller than dataset.clip_seconds")
    if int(seg["window"] * (1 - seg["overlap"])) < 1:
        problems.append(f"segment.overlap: {seg['overlap']} leaves a hop of 0 samples; use a smaller overlap")
    hop_ok = int(seg["window"] * (1 - seg["overlap"])) >= 1
    per_clip = len(segment_starts(clip, seg["window"], seg["overlap"])) if hop_ok else 0
    if p["shards"]["max_segments"] < per_clip:
        problems.append(f"shards.max_segments: {p['shards']['max_segments']} is fewer than one clip's "
                        f"{per_clip} segments (a clip is never split over parts); raise it")
    if spec["n_fft"] > seg["window"]:
        problems.append(f"spectrogram.n_fft: {spec['n_fft']} exceeds segment.window {seg['window']}")
    if spec["fmax"] > sr / 2:
        problems.append(f"spectrogram.fmax: {spec['fmax']} Hz is above Nyquist ({sr / 2} Hz)")
    if spec["fmin"] >= spec["fmax"]:
        problems.append(f"spectrogram.fmin: {spec['fmin']} must be below spectrogram.fmax {spec['fmax']}")
    if spec["n_mels"] > spec["n_fft"] // 2 + 1:
        problems.append(f"spectrogram.n_mels: {spec['n_mels']} exceeds the {spec['n_fft'] // 2 + 1} STFT bins")
    g = p["model"]["cnn1d"]
    if not g["gammatone_fmin"] < g["gammatone_fmax"] < sr / 2:
        problems.append("model.cnn1d.gammatone_fmin/gammatone_fmax: need fmin < fmax < Nyquist "
                        f"({sr / 2} Hz)")
    frames = 1 + seg["window"] // spec["hop_length"]
    for rep, bins in (("stft", spec["n_fft"] // 2 + 1), ("mel", spec["n_mels"])):
        if min(cnn2d_output_shape(bins, frames, p["model"]["cnn2d"]["pools"])) < 1:
            problems.append(f"spectrogram: a {rep} input of {bins}x{frames} is too small for the "
                            "2D CNN (two conv+pool blocks); use more bins/frames")
    if cnn1d_output_length(seg["window"], g["gammatone_taps"]) < 1:
        problems.append(f"segment.window: {seg['window']} samples is too short for the 1D CNN")
    if ds["kind"] == "synthetic":
        if ds["synthetic"]["tracks_per_genre"] < ds["folds"]:
            problems.append(f"dataset.synthetic.tracks_per_genre: {ds['synthetic']['tracks_per_genre']} "
                            f"is fewer than dataset.folds ({ds['folds']}); every fold needs every genre")
    else:
        root = base_dir / ds["root"]
        if not root.is_dir():
            problems.append(f"dataset.root: folder {root} does not exist; point it at a folder of "
                            "genre sub-folders (root/<genre>/<audio files>)")
    a = p["attack"]
    for method in a["methods"]:
        if method != "fgsm" and a[method]["step"] == 0:
            problems.append(f"attack.{method}.step: must be > 0 for an iterative attack")
    for name, sweep in p["study"]["sources"].items():
        rep = spectrogram_of(name, sweep)
        if name in SPECTROGRAM_SOURCES and sweep.get("spectrogram", name) != name:
            problems.append(f"study.sources.{name}.spectrogram: the source named {name} attacks in {name}; "
                            "give the other spectrogram's source another name")
        elif rep and "models" in sweep:
            problems.append(f"study.sources.{name}.models: {name} is the spectrogram source of its own 2D CNN; "
                            "drop spectrogram: to attack models through the waveform")
        elif not rep and "models" not in sweep:
            problems.append(f"study.sources.{name}: a waveform source needs models, the models it attacks "
                            "(e.g. [cnn1d], or [cnn2d_stft, cnn2d_mel] for an ensemble); a spectrogram "
                            "source, spectrogram: stft or mel")
        attacked = set(source_models(name, sweep) if rep or "models" in sweep else ()) & set(p["study"]["held_out"])
        if attacked:
            problems.append(f"study.sources.{name}: attacks {sorted(attacked)}, listed in study.held_out; a held-out "
                            "target is one no attack is crafted on: drop it from one of the two lists")
        if sweep.get("round_trip") and not rep:
            problems.append(f"study.sources.{name}.round_trip: a waveform source ships what it optimised, "
                            "nothing is rebuilt; round_trip is for a spectrogram source")
        outside = sorted(set(sweep.get("visqol_eps", [])) - set(sweep["eps"]))
        if outside:
            problems.append(f"study.sources.{name}.visqol_eps: {outside} not in its eps sweep {sweep['eps']}; "
                            "ViSQOL scores budgets the sweep runs")
    return problems
