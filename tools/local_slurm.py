"""A real single-node SLURM cluster on localhost, for the profile test (and by hand).

Debian's slurmctld/slurmd/slurmdbd 22.05 with munge and a private MariaDB for accounting
(the Snakemake SLURM plugin reads job states through ``sacct``). No systemd: every daemon
is started here in the foreground as a child process and stopped by ``stop()``. State
(database, spool, logs) lives in one folder; the configuration must live in /etc/slurm
(job steps strip SLURM_* variables, so SLURM_CONF is not seen inside jobs), so ``stop()``
removes the files it wrote there: a leftover slurm.conf makes every later ``snakemake``
call wait on ``scontrol``. A leftover of a run killed before ``stop()`` (recognised by
what only this module writes, with no SLURM daemon running) is taken over by the next start;
any other configuration there is left alone and the cluster refuses to start.

    python tools/local_slurm.py start /tmp/slurm    # prints the state folder, runs until Ctrl-C
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

CONF_DIR = Path("/etc/slurm")
CONF_FILES = ("slurm.conf", "slurmdbd.conf", "gres.conf", "cgroup.conf")
DAEMONS = ("munged", "mariadbd", "mariadb-install-db", "slurmctld", "slurmd", "slurmdbd", "sacct", "sbatch")
CLUSTER = "crossrep"
STAND_IN_GPUS = ("/dev/null", "/dev/zero", "/dev/full", "/dev/urandom")
DB_PASSWORD = "crossrep-test"


def missing() -> str | None:
    """Why a local cluster cannot start here, or None."""
    if os.geteuid() != 0:
        return "needs root (daemons, /etc/slurm)"
    absent = [d for d in DAEMONS if shutil.which(d) is None and not Path("/usr/sbin", d).exists()]
    if absent:
        return (f"not installed: {', '.join(absent)} "
                "(Debian: slurmctld slurmd slurmdbd slurm-client munge mariadb-server)")
    taken = [f for f in CONF_FILES if (CONF_DIR / f).exists() and not _stale_leftover(CONF_DIR / f)]
    if taken:
        return f"{CONF_DIR} already holds {', '.join(taken)}: another SLURM is configured here"
    return None


# what only this module writes into each configuration file
_OURS = {"slurm.conf": f"ClusterName={CLUSTER}\n", "slurmdbd.conf": f"StoragePass={DB_PASSWORD}\n",
         "gres.conf": f"NodeName=localhost Name=gpu File={STAND_IN_GPUS[0]}\n", "cgroup.conf": None}


def _stale_leftover(path: Path) -> bool:
    """Whether ``path`` is a file this module wrote for a cluster that is no longer running:
    a run killed before ``stop()`` (a test interrupted by a timeout) leaves its configuration
    behind, and the next start may take it over."""
    marker = _OURS.get(path.name)
    if marker is None or marker not in path.read_text(errors="replace"):
        return False
    return subprocess.run(["pgrep", "-x", "slurmctld|slurmdbd|slurmd"], capture_output=True).returncode != 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(what: str, ready, timeout: float, proc: subprocess.Popen | None = None, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.2)
    tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
    raise RuntimeError(f"{what} did not come up within {timeout:.0f} s\n{tail}")


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


class LocalSlurm:
    """Start with ``start()``; ``stop()`` ends every daemon started and removes the config."""

    def __init__(self, state: Path, gpus: int = 1):
        if not 0 <= gpus <= len(STAND_IN_GPUS):
            raise ValueError(f"gpus must be 0..{len(STAND_IN_GPUS)}, got {gpus}")
        self.state = Path(state)
        self.gpus = gpus
        self.procs: list[tuple[str, subprocess.Popen]] = []
        self.conf_written: list[Path] = []

    # --- daemons -------------------------------------------------------------------------
    def _spawn(self, name: str, args: list[str], **kw) -> subprocess.Popen:
        log = open(self.state / "log" / f"{name}.out", "ab")
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, **kw)
        self.procs.append((name, proc))
        return proc

    def _munge(self):
        sock = Path("/run/munge/munge.socket.2")
        if subprocess.run(["munge", "-n"], capture_output=True).returncode == 0:
            return  # a munged already answers
        sock.parent.mkdir(parents=True, exist_ok=True)
        shutil.chown(sock.parent, "munge", "munge")
        key = Path("/etc/munge/munge.key")
        if not key.exists():
            subprocess.run(["mungekey", "--create"], check=True)
            shutil.chown(key, "munge", "munge")
        proc = self._spawn("munged", ["runuser", "-u", "munge", "--", "munged", "--foreground", "--force"])
        _wait("munged", lambda: subprocess.run(["munge", "-n"], capture_output=True).returncode == 0, 20,
              proc, self.state / "log/munged.out")

    def _mariadb(self) -> int:
        data, port = self.state / "mysql", _free_port()
        subprocess.run(["mariadb-install-db", "--user=root", f"--datadir={data}", "--skip-test-db",
                        "--auth-root-authentication-method=socket"], check=True, capture_output=True)
        sock = self.state / "mysql.sock"
        proc = self._spawn("mariadbd", ["mariadbd", "--no-defaults", "--user=root", f"--datadir={data}",
                                        f"--socket={sock}", f"--port={port}", "--bind-address=127.0.0.1",
                                        f"--pid-file={self.state / 'mysql.pid'}", "--innodb-buffer-pool-size=64M"])
        _wait("mariadbd", lambda: _port_open(port) and sock.exists(), 60, proc, self.state / "log/mariadbd.out")
        sql = (f"CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY '{DB_PASSWORD}';"
               "GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';")
        subprocess.run(["mariadb", f"--socket={sock}", "-uroot", "-e", sql], check=True)
        return port

    def _write_conf(self, db_port: int) -> tuple[int, int, int]:
        cpus = os.cpu_count() or 1
        # leave headroom for the submitting Snakemake and the daemons themselves
        mem_mb = int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20 * 0.8)
        ctld, slurmd, dbd = _free_port(), _free_port(), _free_port()
        s = self.state
        for d in ("spool/ctld", "spool/d"):
            (s / d).mkdir(parents=True, exist_ok=True)
        gres = f" Gres=gpu:{self.gpus}" if self.gpus else ""
        files = {
            "slurm.conf": f"""\
ClusterName={CLUSTER}
SlurmctldHost={socket.gethostname()}(127.0.0.1)
SlurmctldPort={ctld}
SlurmdPort={slurmd}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation={s}/spool/ctld
SlurmdSpoolDir={s}/spool/d
SlurmctldPidFile={s}/slurmctld.pid
SlurmdPidFile={s}/slurmd.pid
SlurmctldLogFile={s}/log/slurmctld.log
SlurmdLogFile={s}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
GresTypes=gpu
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=5
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort={dbd}
AccountingStorageTRES=gres/gpu
AccountingStoreFlags=job_comment
MinJobAge=300
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=localhost NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={mem_mb}{gres} State=UNKNOWN
PartitionName=main Nodes=ALL Default=YES MaxTime=INFINITE State=UP
""",
            "slurmdbd.conf": f"""\
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort={dbd}
SlurmUser=root
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort={db_port}
StorageUser=slurm
StoragePass={DB_PASSWORD}
StorageLoc=slurm_acct_db
PidFile={s}/slurmdbd.pid
LogFile={s}/log/slurmdbd.log
""",
            # GPUs the scheduler can hand out and account for; harmless character devices
            # stand in for the distinct device files slurmd insists on, so a job "on a GPU"
            # still runs on the CPU
            "gres.conf": "".join(f"NodeName=localhost Name=gpu File={dev}\n" for dev in STAND_IN_GPUS[:self.gpus]),
        }
        CONF_DIR.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            if not text:
                continue
            path = CONF_DIR / name
            path.write_text(text)
            self.conf_written.append(path)
        (CONF_DIR / "slurmdbd.conf").chmod(0o600)
        return ctld, slurmd, dbd

    def start(self) -> LocalSlurm:
        reason = missing()
        if reason:
            raise RuntimeError(f"cannot start a local SLURM: {reason}")
        for name in CONF_FILES:   # what is left here is a stale leftover of ours (missing() said so)
            (CONF_DIR / name).unlink(missing_ok=True)
        (self.state / "log").mkdir(parents=True, exist_ok=True)
        try:
            self._munge()
            db_port = self._mariadb()
            ctld, _, dbd = self._write_conf(db_port)
            proc = self._spawn("slurmdbd", ["slurmdbd", "-D"])
            _wait("slurmdbd", lambda: _port_open(dbd), 60, proc, self.state / "log/slurmdbd.log")
            subprocess.run(["sacctmgr", "-i", "add", "cluster", CLUSTER], capture_output=True)
            proc = self._spawn("slurmctld", ["slurmctld", "-D", "-i"])
            _wait("slurmctld", lambda: _port_open(ctld), 60, proc, self.state / "log/slurmctld.log")
            proc = self._spawn("slurmd", ["slurmd", "-D", "-N", "localhost"])
            _wait("slurmd", self._node_ready, 60, proc, self.state / "log/slurmd.log")
        except BaseException:
            self.stop()
            raise
        return self

    def _node_ready(self) -> bool:
        out = subprocess.run(["sinfo", "-h", "-N", "-o", "%t"], capture_output=True, text=True).stdout.split()
        return bool(out) and all(state in ("idle", "mix", "alloc") for state in out)

    def stop(self):
        # end the jobs first: a job step (slurmstepd) outlives a stopped slurmd
        if any(name == "slurmctld" and proc.poll() is None for name, proc in self.procs):
            subprocess.run(["scancel", "--partition=main"], capture_output=True)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and subprocess.run(
                    ["squeue", "-h"], capture_output=True, text=True).stdout.strip():
                time.sleep(0.5)
        for _name, proc in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
        self.procs.clear()
        for path in self.conf_written:
            path.unlink(missing_ok=True)
        self.conf_written.clear()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "start":
        sys.exit(__doc__)
    with LocalSlurm(Path(sys.argv[2])) as cluster:
        print(f"SLURM cluster '{CLUSTER}' up; state and logs in {cluster.state}. Ctrl-C stops it.", flush=True)
        # stop() runs on the way out (a background job may have SIGINT ignored: set both)
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: sys.exit(0))
        signal.pause()
