from crossrep import runtime
from crossrep.steps import study_score

runtime.snakemake_setup(snakemake)
study_score.run(clips=snakemake.input.clips, rebuilt=snakemake.input.rebuilt,
                checkpoints=dict(zip(snakemake.params.targets, snakemake.input.checkpoints, strict=True)),
                out=snakemake.output.scores, params=snakemake.params.config)
