from crossrep import runtime, steps

runtime.snakemake_setup(snakemake)
out = snakemake.output
steps.report(snakemake.params.results, out.metrics, out.page, out.figures, out.plots, snakemake.params.dataset)
