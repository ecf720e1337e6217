"""One writer per run folder: `sngan train` holds <run>/lock for its whole life (rank 0 of a torchrun job for all its
ranks); a second `sngan train` on the same folder is refused at once, naming the holder. `sample` and `eval` only
read a run and take no lock.

What it relies on: a POSIX advisory lock (fcntl.lockf) on the lock file, which the kernel drops when the process
dies however it dies (SIGKILL included), so a lock left by a dead process on this host is simply taken over. NFS
(v3 with lockd, v4) carries these locks between hosts, and its server drops a crashed client's lock when the
client's lease runs out. The file also holds the holder's record (pid, host, start time, SLURM job) and the holder
touches it every HEARTBEAT seconds: on a folder whose locks do not reach other hosts (an NFS mount with nolock or
local_lock), a record from another host touched within STALE seconds is refused anyway, and one silent for longer is
taken over with a line saying so; never silently. A requeued SLURM job (the same SLURM_JOB_ID) takes over its
earlier run's lock: SLURM stops the old one before it starts the new.
"""
from __future__ import annotations

import datetime
import fcntl
import json
import os
import socket
import sys
import threading
import time

from ..errors import UserError

LOCK_NAME = "lock"
HEARTBEAT = 30.0        # seconds between touches of the lock file by its holder
STALE = 300.0           # a record from another host untouched this long is taken over


class RunLocked(UserError):
    """Another process trains in this run folder."""


def _record() -> dict:
    return {"pid": os.getpid(), "host": socket.gethostname(),
            "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "slurm_job_id": os.environ.get("SLURM_JOB_ID")}


def _describe(record: dict) -> str:
    job = f", SLURM job {record['slurm_job_id']}" if record.get("slurm_job_id") else ""
    return f"pid {record.get('pid')} on {record.get('host')} (since {record.get('started')}{job})"


class RunLock:
    """The held lock of one run folder; release() (or process death) gives it back. claim() writes this process's
    record into the file and starts the heartbeat (a start that ends before training leaves the file as it was)."""

    def __init__(self, path: str, fd: int):
        self.path, self.fd = path, fd
        self._stop = threading.Event()
        self._beat = None

    def claim(self) -> None:
        from ..fsutil import writing

        with writing(self.path):
            os.ftruncate(self.fd, 0)
            os.lseek(self.fd, 0, os.SEEK_SET)
            os.write(self.fd, (json.dumps(_record()) + "\n").encode())
            os.fsync(self.fd)
        self._beat = threading.Thread(target=self._heartbeat, name="sngan-lock-heartbeat", daemon=True)
        self._beat.start()

    def _heartbeat(self) -> None:
        while not self._stop.wait(HEARTBEAT):
            try:
                os.utime(self.path)
            except OSError:  # a full or read-only disk: training reports it at its next write
                pass

    def release(self) -> None:
        if self.fd is None:
            return
        self._stop.set()
        try:
            fcntl.lockf(self.fd, fcntl.LOCK_UN)
        finally:
            os.close(self.fd)
            self.fd = None


def _read(fd: int) -> dict:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        return json.loads(os.read(fd, 65536).decode() or "{}")
    except (OSError, ValueError):
        return {}


def probe(run_dir: str) -> str | None:
    """The refusal a start on run_dir would meet now (another live process holds its lock), else None: an early,
    read-only look (nothing is created or written), so a second `sngan train` ends before loading anything."""
    path = os.path.join(run_dir, LOCK_NAME)
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:  # no lock file (a new run), or not ours to open: the full check at start decides
        return None
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return _busy_message(run_dir, _read(fd))
    else:
        fcntl.lockf(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _busy_message(run_dir: str, holder: dict) -> str:
    return (f"the run folder {run_dir} is in use by {_describe(holder)}: wait for that run to finish or stop it "
            f"(kill {holder.get('pid')} on {holder.get('host')}), or pass name=NEW_NAME for another run")


def acquire(run_dir: str) -> RunLock:
    """Hold <run_dir>/lock (the folder must exist), or RunLocked naming the holder and the fix."""
    from ..fsutil import writing

    path = os.path.join(run_dir, LOCK_NAME)
    with writing(path):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # EAGAIN / EACCES: held by a live process
        holder = _read(fd)
        os.close(fd)
        raise RunLocked(_busy_message(run_dir, holder)) from None
    previous = _read(fd)
    me = _record()
    foreign = previous.get("host") not in (None, me["host"])
    requeued = previous.get("slurm_job_id") is not None and previous.get("slurm_job_id") == me["slurm_job_id"]
    if foreign and not requeued:
        silent = time.time() - os.fstat(fd).st_mtime
        if silent < STALE:
            fcntl.lockf(fd, fcntl.LOCK_UN)
            os.close(fd)
            raise RunLocked(f"the run folder {run_dir} is in use by {_describe(previous)}, touched {silent:.0f} s "
                            f"ago (another host: this filesystem's locks do not reach it, so sngan cannot tell "
                            f"whether it still runs): if that run is gone, delete {path} and rerun")
        print(f"sngan train: took over the lock of {_describe(previous)}, silent for {silent / 60:.0f} minutes "
              f"({path})", file=sys.stderr)
    return RunLock(path, fd)
