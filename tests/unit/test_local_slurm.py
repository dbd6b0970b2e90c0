"""The test cluster's guard on /etc/slurm: it takes over only what an interrupted run of its
own left there, never another SLURM's configuration."""
import subprocess

import pytest

from tools.local_slurm import CLUSTER, _stale_leftover


@pytest.mark.skipif(subprocess.run(["pgrep", "-x", "slurmctld|slurmdbd|slurmd"], capture_output=True).returncode == 0,
                    reason="a SLURM daemon runs here: no configuration counts as stale")
def test_only_own_leftovers_count_as_stale(tmp_path):
    ours = tmp_path / "slurm.conf"
    ours.write_text(f"ClusterName={CLUSTER}\nSlurmctldPort=6817\n")
    foreign = tmp_path / "slurmdbd.conf"
    foreign.write_text("StorageType=accounting_storage/mysql\nStoragePass=site-secret\n")
    site = tmp_path / "cgroup.conf"   # never written with a marker: never taken over
    site.write_text("CgroupPlugin=autodetect\n")
    assert _stale_leftover(ours)
    assert not _stale_leftover(foreign)
    assert not _stale_leftover(site)
    ours.write_text("ClusterName=site\n")
    assert not _stale_leftover(ours)
