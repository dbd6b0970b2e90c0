from crossrep import runtime
from crossrep.steps import transfer

runtime.snakemake_setup(snakemake)
i, o = snakemake.input, snakemake.output
transfer.run(checkpoint=i.checkpoint, segments=i.segments, clean=i.clean, source=i.source,
             representation=snakemake.wildcards.rep, predictions_out=o.predictions, snr_out=o.snr,
             params=snakemake.params.config)
