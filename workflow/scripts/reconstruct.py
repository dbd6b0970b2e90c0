from crossrep import runtime
from crossrep.steps import reconstruct

runtime.snakemake_setup(snakemake)
reconstruct.run(segments=snakemake.input.segments, source=snakemake.input.source, out=snakemake.output[0],
                representation=snakemake.wildcards.rep, params=snakemake.params.config)
