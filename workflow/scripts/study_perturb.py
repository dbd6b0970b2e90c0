from crossrep import runtime
from crossrep.steps import study_perturb

runtime.snakemake_setup(snakemake)
study_perturb.run(clips=snakemake.input.clips, checkpoints=snakemake.input.checkpoints,
                  audio_out=snakemake.output.audio, quality_out=snakemake.output.quality,
                  source=snakemake.wildcards.source, params=snakemake.params.config)
