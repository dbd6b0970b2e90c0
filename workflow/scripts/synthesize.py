from crossrep import runtime, steps

runtime.snakemake_setup(snakemake)
steps.synthesize(snakemake.output[0], snakemake.params.dataset, snakemake.params.sample_rate,
                 snakemake.params.seed)
