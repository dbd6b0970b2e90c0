from crossrep import runtime, steps

runtime.snakemake_setup(snakemake)
steps.report(snakemake.params.results, snakemake.output.metrics, snakemake.output.page, snakemake.output.figures,
             snakemake.params.dataset)
