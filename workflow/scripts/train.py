from crossrep import runtime
from crossrep.steps import train

runtime.snakemake_setup(snakemake)
train.run(kind=snakemake.wildcards.model, train_shards=list(snakemake.input), checkpoint=snakemake.output.checkpoint,
          history=snakemake.output.history, fold=int(snakemake.wildcards.fold), params=snakemake.params.config)
