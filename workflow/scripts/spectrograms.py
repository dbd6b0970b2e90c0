from crossrep import runtime
from crossrep.steps import spectrograms

runtime.snakemake_setup(snakemake)
spectrograms.run(segments=snakemake.input[0], out=snakemake.output[0], representation=snakemake.wildcards.rep,
                 params=snakemake.params.config)
