"""The transfer study: how transfer grows with the perturbation budget, in every direction
between the three models, against a noise control of the same budget.

``clips``    whole test clips: tiling into model windows and back, the subset studied
``perturb``  one source's perturbations (attacks and noise) rebuilt into whole-clip audio
``quality``  how loud / audible each rebuilt clip is (true SNR, level ratio, LSD, ViSQOL)
``score``    every target model on the rebuilt clips, re-segmented as clean clips are
``summary``  per-(source, perturbation, eps, path, target, fold) figures, matched-SNR table

Imports nothing here, so a step loads only the modules it runs.
"""

# source -> the model attacked and the rebuild paths its perturbations reach audio by
SOURCE_MODEL = {"stft": "cnn2d_stft", "mel": "cnn2d_mel", "cnn1d": "cnn1d"}
PATHS = {"stft": ("clean_phase",), "mel": ("oracle_phase", "griffin_lim"), "cnn1d": ("waveform",)}
NOISE = "noise"  # the control: random signs, the budget of FGSM
CLEAN = "none"  # the perturbation name of the eps-0 rows: each path's clean rebuild
