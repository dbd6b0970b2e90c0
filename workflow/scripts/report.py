from pathlib import Path

from crossrep import runtime
from crossrep.steps import report

runtime.snakemake_setup(snakemake)
out = snakemake.output
report.run(results=snakemake.params.results, out_dir=Path(out.details).parent, page_path=out.page,
           figures_dir=out.figures, plots_dir=out.plots, params=snakemake.params.config)
