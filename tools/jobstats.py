"""Reading Snakemake's own console output (used by bench/rerun.py and the tests)."""
from __future__ import annotations

import re

_JOB_STATS = re.compile(r"Job stats:\njob\s+count\n[-\s]+\n((?:\S+\s+\d+\n)+)")


def job_stats(output: str) -> dict[str, int]:
    """The first 'Job stats' table Snakemake prints (a run or a dry run) as {rule: jobs},
    without the 'total' row; {} when there is none (nothing to be done)."""
    match = _JOB_STATS.search(output)
    if not match:
        return {}
    rows = (line.split() for line in match.group(1).strip().splitlines())
    return {rule: int(n) for rule, n in rows if rule != "total"}
