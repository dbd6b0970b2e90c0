from crossrep import runtime, steps

runtime.snakemake_setup(snakemake)
i, o = snakemake.input, snakemake.output
steps.predict(i.checkpoint, i.rebuilt, o.predictions)
steps.snr(i.segments, i.clean, i.rebuilt, o.snr)
