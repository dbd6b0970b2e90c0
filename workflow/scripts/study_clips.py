from crossrep import runtime
from crossrep.steps import study_clips

runtime.snakemake_setup(snakemake)
config = snakemake.params.config
study_clips.run(manifest=snakemake.input.manifest, root=config["dataset"]["root"], out=snakemake.output[0],
                fold=int(snakemake.wildcards.fold), part=int(snakemake.wildcards.part), params=config)
