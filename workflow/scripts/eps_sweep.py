from crossrep import runtime
from crossrep.steps import eps_sweep

runtime.snakemake_setup(snakemake)
eps_sweep.run(checkpoint=snakemake.input.checkpoint, spectrograms=snakemake.input.spectrograms,
              out=snakemake.output[0], method=snakemake.wildcards.attack, params=snakemake.params.config)
