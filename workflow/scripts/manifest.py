from crossrep import runtime
from crossrep.steps import manifest

runtime.snakemake_setup(snakemake)
manifest.run(root=snakemake.params.config["dataset"]["root"], out=snakemake.output[0], params=snakemake.params.config)
