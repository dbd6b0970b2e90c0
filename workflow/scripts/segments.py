from crossrep import runtime
from crossrep.steps import segments

runtime.snakemake_setup(snakemake)
segments.run(manifest=snakemake.input.manifest, root=snakemake.params.root, out=snakemake.output[0],
             fold=int(snakemake.wildcards.fold), params=snakemake.params.config)
