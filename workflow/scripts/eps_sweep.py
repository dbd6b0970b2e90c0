from crossrep import runtime, steps

runtime.snakemake_setup(snakemake)
a = snakemake.params.attack
steps.eps_sweep(snakemake.input.checkpoint, snakemake.input.spectrograms, snakemake.output[0], a,
                a["sweep_tracks_per_genre"], snakemake.params.seed)
