from crossrep import runtime, steps

runtime.snakemake_setup(snakemake)
p = snakemake.params
steps.listening(int(snakemake.wildcards.fold), snakemake.input.segments, snakemake.output.audio,
                snakemake.output.samples, p.sources, p.per_genre, p.sample_rate)
