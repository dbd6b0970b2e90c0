from crossrep import runtime
from crossrep.steps import transfer

runtime.snakemake_setup(snakemake)
i, o = snakemake.input, snakemake.output
transfer.run(checkpoint=i.checkpoint, segments=i.segments, clean_rebuild=i.clean, rebuilt=i.rebuilt,
             predictions_out=o.predictions, snr_out=o.snr)
