"""Developer tools: a local single-node SLURM cluster (``local_slurm``) and a reader of
Snakemake's job tables (``jobstats``), used by the tests and benches."""
