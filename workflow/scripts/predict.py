from crossrep import runtime, steps

runtime.snakemake_setup(snakemake)
steps.predict(snakemake.input.checkpoint, snakemake.input.source, snakemake.output[0])
