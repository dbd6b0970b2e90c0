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

# source -> the model attacked and the rebuild paths its perturbations reach audio by
SOURCE_MODEL = {"stft": "cnn2d_stft", "mel": "cnn2d_mel", "cnn1d": "cnn1d"}
PATHS = {"stft": ("clean_phase",), "mel": ("oracle_phase", "griffin_lim"), "cnn1d": ("waveform",)}
CLEAN = "none"  # the perturbation name of the eps-0 rows: each path's clean rebuild
# The controls every attack method is compared with, at the same eps and on the same clips:
#   noise  random signs with FGSM's L-inf budget (study.noise_draws draws per clip);
#   null   the attack's own rebuilt perturbation with random STFT phases: its true SNR and
#          spectral envelope (perturbation name "<method>_null");
#   init   the same attack crafted on an untrained model of the source's architecture
#          ("<method>_init"): what the budget and procedure do with nothing learned behind.
NOISE = "noise"
CONTROLS = ("noise", "null", "init")


def control_kind(method: str, control: str) -> str:
    """The perturbation name of ``control`` for attack ``method`` (noise is shared)."""
    return NOISE if control == "noise" else f"{method}_{control}"


def attack_method(kind: str) -> str:
    """The attack method behind a perturbation name ("bim_init" -> "bim")."""
    return kind.removesuffix("_null").removesuffix("_init")
