from crossrep import runtime
from crossrep.steps import study_perturb

runtime.snakemake_setup(snakemake)
targets = dict(zip(snakemake.params.targets, snakemake.input.targets, strict=True))  # study.keep_audio: listening
study_perturb.run(clips=snakemake.input.clips, checkpoints=snakemake.input.checkpoints,
                  audio_out=snakemake.output.audio, quality_out=snakemake.output.quality,
                  source=snakemake.wildcards.source, params=snakemake.params.config,
                  targets=targets or None, scores_out=snakemake.output.scores[0] if targets else None)
