from crossrep import runtime, steps

runtime.snakemake_setup(snakemake)
p = snakemake.params
steps.segments(snakemake.input.manifest, snakemake.input.root, snakemake.output[0],
               int(snakemake.wildcards.fold), p.genres, p.sample_rate, p.clip_seconds, p.segment)
