from crossrep import runtime, steps

runtime.snakemake_setup(snakemake)
steps.adversarial(snakemake.input.checkpoint, snakemake.input.spectrograms, snakemake.output[0],
                  snakemake.wildcards.attack, snakemake.params.attack, snakemake.params.seed)
