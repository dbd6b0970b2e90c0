from crossrep import runtime, steps
from crossrep.features import SpectrogramConfig

runtime.snakemake_setup(snakemake)
p = snakemake.params
steps.reconstruct(snakemake.input.segments, snakemake.input.source, snakemake.output[0], snakemake.wildcards.rep,
                  SpectrogramConfig.from_params(p.spectrogram, p.sample_rate),
                  p.reconstruction["griffin_lim_iterations"], p.reconstruction["batch_size"], p.seed)
