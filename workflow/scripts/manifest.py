from crossrep import runtime, steps

runtime.snakemake_setup(snakemake)
steps.manifest(snakemake.input[0], snakemake.output[0], snakemake.params.dataset,
               snakemake.params.sample_rate, snakemake.params.segment, snakemake.params.seed)
