from crossrep import runtime
from crossrep.steps import predict

runtime.snakemake_setup(snakemake)
predict.run(checkpoint=snakemake.input.checkpoint, source=snakemake.input.source, out=snakemake.output[0])
