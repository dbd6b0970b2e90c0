"""The transfer study: how transfer grows with the perturbation budget, in every direction
between the three models, against a noise control of the same budget.

``clips``     whole test clips: tiling into model windows and back, the subset studied
``perturb``   one source's perturbations (attacks and controls) rebuilt into whole-clip audio
``controls``  the spectrum-matched null of an attack's perturbation
``quality``   how loud / audible each rebuilt clip is (true SNR, level ratio, LSD, ViSQOL)
``score``     every target model on the rebuilt clips, re-segmented as clean clips are
``summary``   per-clip outcomes, and figures per (source, path, perturbation, eps, target, fold)
``stats``     paired bootstrap intervals and McNemar's test on per-clip outcomes
``analysis``  figures over folds, at matched true SNR, and the verdict against each control
``report``    the study's tables, figures and plot series

Imports nothing here, so a step loads only the modules it runs.
"""

# Sources (params.yaml study.sources): a spectrogram source (named stft or mel, or any name
# with ``spectrogram: stft|mel``) attacks its 2D CNN in its spectrogram, rebuilt into audio by
# its paths (with ``round_trip``, every attack iteration sees the spectrogram after the
# oracle rebuild, so what is optimised is what survives into audio); any other source
# attacks the waveform itself through its ``models`` (the 1D CNN on the samples, a 2D CNN
# through its own spectrogram; several: an ensemble, losses averaged), and ships exactly
# what it optimised.
SPECTROGRAM_SOURCES = {"stft": "cnn2d_stft", "mel": "cnn2d_mel"}
PATHS = {"stft": ("clean_phase",), "mel": ("oracle_phase", "griffin_lim")}
WAVEFORM = "waveform"
MODEL_NAME = {"cnn2d_stft": "STFT 2D CNN", "cnn2d_mel": "mel 2D CNN", "cnn1d": "1D CNN",
              "samplecnn": "sample-level 1D CNN", "resnet_mel": "mel ResNet"}
PATH_NAME = {"oracle_phase": " (oracle phase)", "griffin_lim": " (Griffin-Lim)", WAVEFORM: " (waveform)"}
CLEAN = "none"  # the perturbation name of the eps-0 rows: each path's clean rebuild
# The controls every attack method is compared with, at the same eps and on the same clips:
#   noise  random signs with FGSM's L-inf budget (study.noise_draws draws per clip);
#   null   the attack's own rebuilt perturbation with random STFT phases: its true SNR and
#          spectral envelope (perturbation name "<method>_null");
#   init   the same attack crafted on an untrained model of the source's architecture
#          ("<method>_init"): what the budget and procedure do with nothing learned behind.
NOISE = "noise"
CONTROLS = ("noise", "null", "init")


def targets_in(names) -> list[str]:
    """The model kinds among ``names`` (e.g. a table's target column), in ``MODEL_NAME``'s order."""
    present = set(names)
    return [t for t in MODEL_NAME if t in present]


def control_kind(method: str, control: str) -> str:
    """The perturbation name of ``control`` for attack ``method`` (noise is shared)."""
    return NOISE if control == "noise" else f"{method}_{control}"


def attack_method(kind: str) -> str:
    """The attack method behind a perturbation name ("bim_init" -> "bim")."""
    return kind.removesuffix("_null").removesuffix("_init")


def spectrogram_of(name: str, sweep: dict) -> str | None:
    """The spectrogram source ``name`` (its ``study.sources`` entry: ``sweep``) attacks in
    (stft | mel); None for a waveform source."""
    return name if name in SPECTROGRAM_SOURCES else sweep.get("spectrogram")


def source_models(name: str, sweep: dict) -> tuple[str, ...]:
    """The models source ``name`` (its ``study.sources`` entry: ``sweep``) crafts its attacks on."""
    rep = spectrogram_of(name, sweep)
    return (SPECTROGRAM_SOURCES[rep],) if rep else tuple(sweep["models"])


def models_of(sources: dict) -> dict[str, tuple[str, ...]]:
    """{source: the models it attacks} for every source of ``study.sources``."""
    return {name: source_models(name, sweep) for name, sweep in sources.items()}


def paths_of(name: str, sweep: dict) -> tuple[str, ...]:
    """The paths by which source ``name``'s perturbations reach audio."""
    rep = spectrogram_of(name, sweep)
    return PATHS[rep] if rep else (WAVEFORM,)


def source_labels(sources: dict) -> dict[tuple[str, str], str]:
    """(source, path) -> its name in tables and figures, for every source of ``study.sources``."""
    return {(name, path): " + ".join(MODEL_NAME[m] for m in source_models(name, sweep))
            + (", round-trip-aware" if sweep.get("round_trip") else "") + PATH_NAME.get(path, "")
            for name, sweep in sources.items() for path in paths_of(name, sweep)}
