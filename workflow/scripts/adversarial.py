from crossrep import runtime
from crossrep.steps import adversarial

runtime.snakemake_setup(snakemake)
adversarial.run(checkpoint=snakemake.input.checkpoint, spectrograms=snakemake.input.spectrograms,
                out=snakemake.output[0], method=snakemake.wildcards.attack, params=snakemake.params.config)
