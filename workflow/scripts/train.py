from crossrep import runtime, steps

runtime.snakemake_setup(snakemake)
p = snakemake.params
steps.train(snakemake.wildcards.model, list(snakemake.input), snakemake.output.checkpoint, snakemake.output.history,
            int(snakemake.wildcards.fold), p.genres, p.model, p.train, p.seed, p.sample_rate, p.inputs)
