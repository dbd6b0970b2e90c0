from crossrep import runtime
from crossrep.steps import synthesize

runtime.snakemake_setup(snakemake)
synthesize.run(root=snakemake.output[0], params=snakemake.params.config)
