from crossrep import runtime
from crossrep.steps import segments

runtime.snakemake_setup(snakemake)
config = snakemake.params.config
segments.run(manifest=snakemake.input.manifest, root=config["dataset"]["root"], out=snakemake.output[0],
             fold=int(snakemake.wildcards.fold), part=int(snakemake.wildcards.part), params=config)
