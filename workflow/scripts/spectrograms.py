from crossrep import runtime, steps
from crossrep.features import SpectrogramConfig

runtime.snakemake_setup(snakemake)
p = snakemake.params
steps.spectrograms(snakemake.input[0], snakemake.output[0], snakemake.wildcards.rep,
                   SpectrogramConfig.from_params(p.spectrogram, p.sample_rate), p.spectrogram["batch_size"])
