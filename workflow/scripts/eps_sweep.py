from crossrep import runtime, steps

runtime.snakemake_setup(snakemake)
p = snakemake.params
steps.eps_sweep(snakemake.input.checkpoint, snakemake.input.spectrograms, snakemake.output[0],
                snakemake.wildcards.attack, p.attack, p.eps, p.tracks_per_genre, p.seed)
