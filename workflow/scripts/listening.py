from crossrep import runtime
from crossrep.steps import listening

runtime.snakemake_setup(snakemake)
listening.run(fold=int(snakemake.wildcards.fold), segments=snakemake.input.segments, out_dir=snakemake.output.audio,
              out_json=snakemake.output.samples, sources=snakemake.params.sources, params=snakemake.params.config)
