"""One writer per run folder (the lock), clean failures when the disk fails mid-run (one line, no temp file, the
last checkpoint intact, exit 74, the rerun resumes bitwise), and logs that hold each (step, tag) once whatever the
kill time."""
from __future__ import annotations

import errno
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter

import pytest
import torch

from conftest import run_cli, sngan_exe
from sngan.errors import EXIT_IO, DiskError
from sngan.fsutil import append_whole
from sngan.run.layout import list_checkpoints
from sngan.train import train

from train.test_resume import assert_same_training_state, cfg_for, final_state

ONE_THREAD = dict(os.environ, OMP_NUM_THREADS="1")
TINY = ["dataset.resolution=8", "batch_size=8", "arch.g_ch=32", "arch.d_ch=8", "device=cpu", "train.progress=false",
        "train.n_samples=4", "train.log_every=1", "metrics.every.sigma=5", "train.sample_every=1000",
        "metrics.enabled=false", "setting=C", "loss=bce"]


def start(run_dir, *extra, **popen):
    return subprocess.Popen(sngan_exe() + ["train", *TINY, f"hydra.run.dir={run_dir}", *extra], env=ONE_THREAD,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


def wait_for(predicate, proc, timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def claimed_by(run_dir, pid) -> bool:
    try:
        return json.loads(open(os.path.join(run_dir, "lock")).read() or "{}").get("pid") == pid
    except (OSError, ValueError):
        return False


def records(path) -> list[dict]:
    if not os.path.exists(path):
        return []
    return [json.loads(line) for line in open(path)]


def assert_each_step_and_tag_once(run_dir):
    run_dir = str(run_dir)
    scalars = Counter((r["step"], r["tag"]) for r in records(os.path.join(run_dir, "scalars.jsonl")))
    assert scalars and max(scalars.values()) == 1, [k for k, n in scalars.items() if n > 1][:5]
    steps = [r["step"] for r in records(os.path.join(run_dir, "scalars.jsonl")) if r["tag"] == "loss/D"]
    assert steps == sorted(steps)  # never backwards
    for name in ("spectra.jsonl", "metrics.jsonl"):
        seen = Counter((r["step"], tuple(sorted(r.get("metrics") or {}))) for r in records(os.path.join(run_dir, name)))
        assert not seen or max(seen.values()) == 1, (name, seen)


# ---- the lock ---------------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_a_second_process_on_the_same_folder_is_refused_and_the_first_runs_on_as_alone(tmp_path):
    alone = tmp_path / "alone"
    args = ("train.steps=600", "train.ckpt_every=100")
    run_cli(["train", *TINY, f"hydra.run.dir={alone}", *args], cwd=tmp_path, env=ONE_THREAD)
    run = tmp_path / "run"
    first = start(run, *args, cwd=tmp_path)
    assert wait_for(lambda: claimed_by(run, first.pid), first), first.communicate()
    second = subprocess.run(sngan_exe() + ["train", *TINY, f"hydra.run.dir={run}", *args], cwd=tmp_path,
                            env=ONE_THREAD, capture_output=True, text=True, timeout=120)
    still_running = first.poll() is None
    out, err = first.communicate(timeout=600)
    assert first.returncode == 0, err
    assert still_running, "the first run ended before the second was refused: make it longer"
    assert second.returncode == 2 and second.stdout == "", second.stderr
    line = second.stderr.strip()
    assert "\n" not in line and f"in use by pid {first.pid} on {socket.gethostname()}" in line and "name=" in line
    assert_same_training_state(final_state(run), final_state(alone))
    assert_each_step_and_tag_once(run)
    # one writer: every event file is the first process's (its name ends in <host>.<pid>.<n>; the HParams tab
    # adds a second file from the same process at the end)
    assert {name.split(".")[-2] for name in os.listdir(run / "tb")} == {str(first.pid)}


@pytest.mark.slow
def test_a_lock_left_by_a_killed_process_is_taken_over(tmp_path):
    run = tmp_path / "run"
    first = start(run, "train.steps=300", "train.ckpt_every=5")
    assert wait_for(lambda: claimed_by(run, first.pid) and list_checkpoints(str(run)), first)
    first.send_signal(signal.SIGKILL)
    first.wait()
    rerun = run_cli(["train", *TINY, f"hydra.run.dir={run}", "train.steps=300", "train.ckpt_every=5"], cwd=tmp_path,
                    env=ONE_THREAD)
    assert "took over" not in rerun.stderr  # the same host, a dead process: no word needed
    assert final_state(run)["step"] == 300
    assert_each_step_and_tag_once(run)


def write_record(run, **record):
    run.mkdir(parents=True, exist_ok=True)
    (run / "lock").write_text(json.dumps({"pid": 4242, "host": "node-7", "started": "2026-01-01T00:00:00+00:00",
                                          "slurm_job_id": None, **record}) + "\n")


def test_a_fresh_record_from_another_host_is_refused_with_how_to_clear_it(tmp_path, monkeypatch):
    run = tmp_path / "run"
    write_record(run)
    before = (run / "lock").read_text()
    with pytest.raises(Exception) as refused:
        train(cfg_for(run, "train.steps=2"))
    message = str(refused.value)
    assert type(refused.value).__name__ == "RunLocked" and "pid 4242 on node-7" in message
    assert f"delete {run / 'lock'}" in message and "\n" not in message
    assert (run / "lock").read_text() == before and sorted(os.listdir(run)) == ["lock"]  # nothing touched


def test_a_silent_record_from_another_host_is_taken_over_with_a_line(tmp_path, capsys):
    run = tmp_path / "run"
    write_record(run)
    old = time.time() - 3600
    os.utime(run / "lock", (old, old))
    train(cfg_for(run, "train.steps=2"))
    assert "took over the lock of pid 4242 on node-7" in capsys.readouterr().err
    assert json.loads((run / "lock").read_text())["pid"] == os.getpid()


def test_a_requeued_slurm_job_takes_over_its_own_lock(tmp_path, monkeypatch):
    run = tmp_path / "run"
    write_record(run, slurm_job_id="9001")
    monkeypatch.setenv("SLURM_JOB_ID", "9001")
    train(cfg_for(run, "train.steps=2"))
    assert json.loads((run / "lock").read_text())["slurm_job_id"] == "9001"


def test_sample_and_eval_read_a_locked_run(tmp_path):
    import fcntl

    from sngan.build import load_generator

    run = tmp_path / "run"
    train(cfg_for(run, "train.steps=2"))
    fd = os.open(run / "lock", os.O_RDWR)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a running trainer holds it
        proc = run_cli(["sample", f"ckpt={run}", "n=4", f"out={tmp_path / 'grid.png'}", "device=cpu"], cwd=tmp_path)
        assert os.path.exists(tmp_path / "grid.png"), proc.stderr
        assert load_generator(str(run)) is not None
    finally:
        os.close(fd)


# ---- the disk fails mid-run --------------------------------------------------------------------------------------

def test_a_full_disk_during_a_checkpoint_is_one_line_no_temp_file_and_resumes_bitwise(tmp_path, monkeypatch):
    reference = tmp_path / "reference"
    train(cfg_for(reference))
    run = tmp_path / "run"
    real_save, calls = torch.save, {"n": 0}

    def full_disk(obj, f, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:  # the step-4 checkpoint: part of it written, then the disk is full
            f.write(b"PK\x03\x04 partial")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(DiskError) as failed:
        train(cfg_for(run))
    message = str(failed.value)
    assert failed.value.exit_code == EXIT_IO == 74 and "\n" not in message
    assert f"cannot write {run / 'checkpoints' / 'ckpt_000000004.pt'}: [Errno 28] No space left on device" in message
    assert "ckpt_000000002.pt (step 2) is intact" in message and "rerun" in message
    assert [os.path.basename(p) for p in list_checkpoints(str(run))] == ["ckpt_000000002.pt"]
    assert not [n for n in os.listdir(run / "checkpoints") if ".tmp" in n]
    monkeypatch.undo()
    train(cfg_for(run))  # the disk has room again
    assert_same_training_state(final_state(run), final_state(reference))
    assert_each_step_and_tag_once(run)


def test_a_full_disk_while_logging_leaves_no_torn_line(tmp_path, monkeypatch):
    import sngan.fsutil as fsutil

    run = tmp_path / "run"
    real_write, calls = os.write, {"n": 0}

    def fails_on_the_log(fd, data):
        if os.readlink(f"/proc/self/fd/{fd}").endswith("scalars.jsonl"):
            calls["n"] += 1
            if calls["n"] == 5:
                real_write(fd, data[: len(data) // 2])  # half a record reaches the disk
                raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(fsutil.os, "write", fails_on_the_log)
    with pytest.raises(DiskError, match=r"scalars.jsonl: \[Errno 28\] No space left on device"):
        train(cfg_for(run))
    lines = open(run / "scalars.jsonl").read().splitlines()
    assert lines and all(json.loads(line) for line in lines)  # every line whole
    monkeypatch.undo()
    train(cfg_for(run))
    assert_each_step_and_tag_once(run)


@pytest.mark.parametrize("code, advice", [(errno.EROFS, "writable again"), (errno.EIO, "I/O error"),
                                          (errno.EDQUOT, "quota")])
def test_each_disk_failure_names_its_fix(tmp_path, code, advice):
    def failing(f):
        raise OSError(code, os.strerror(code))

    from sngan.fsutil import atomic_write

    with pytest.raises(DiskError, match=advice) as failed:
        atomic_write(str(tmp_path / "x.pt"), failing)
    assert f"[Errno {code}]" in str(failed.value) and os.listdir(tmp_path) == []


def test_an_append_is_whole_or_cut_back(tmp_path, monkeypatch):
    import sngan.fsutil as fsutil

    path = tmp_path / "log.jsonl"
    append_whole(str(path), '{"a": 1}\n')
    real_write = os.write

    def half(fd, data):
        real_write(fd, data[:3])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(fsutil.os, "write", half)
    with pytest.raises(DiskError):
        append_whole(str(path), '{"b": 2}\n')
    assert path.read_text() == '{"a": 1}\n'


def test_the_cli_prints_one_line_and_exits_74_without_a_traceback(tmp_path):
    script = (
        "import errno, sys, torch\n"
        "real = torch.save\n"
        "def full(obj, f, *a, **k):\n"
        "    raise OSError(errno.ENOSPC, 'No space left on device')\n"
        "torch.save = full\n"
        "from sngan.cli import main\n"
        f"main(['train', *{TINY!r}, 'train.steps=4', 'train.ckpt_every=2', 'hydra.run.dir={tmp_path / 'run'}'])\n")
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=ONE_THREAD, capture_output=True, text=True,
                          timeout=300)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 74, proc.stderr
    assert len(lines) == 1 and lines[0].startswith("sngan train: error: cannot write") and "Traceback" not in proc.stderr
    assert "no checkpoint yet" in lines[0]


def test_sample_on_a_full_disk_is_one_line_and_leaves_nothing(tmp_path):
    run = tmp_path / "run"
    train(cfg_for(run, "train.steps=2"))
    script = (
        "import errno, numpy\n"
        "def full(*a, **k):\n"
        "    raise OSError(errno.ENOSPC, 'No space left on device')\n"
        "numpy.savez = full\n"
        "from sngan.cli import main\n"
        f"main(['sample', 'ckpt={run}', 'n=8', 'out={tmp_path / 'out' / 'samples.npz'}', 'device=cpu'])\n")
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 74 and "Traceback" not in proc.stderr, proc.stderr
    assert "No space left on device" in proc.stderr and not (tmp_path / "out").exists()


# ---- logs: each (step, tag) once, whatever the kill time ------------------------------------------------------

@pytest.mark.slow
def test_kills_before_and_after_the_first_checkpoint_leave_each_record_once(tmp_path):
    run = tmp_path / "run"
    args = ("train.steps=30", "train.ckpt_every=12")
    for logged in (3, 16):  # killed before the first checkpoint, then between two
        proc = start(run, *args)
        wait_for(lambda: max([r["step"] for r in records(run / "scalars.jsonl")] or [0]) >= logged, proc)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL
    run_cli(["train", *TINY, f"hydra.run.dir={run}", *args], cwd=tmp_path, env=ONE_THREAD)
    assert_each_step_and_tag_once(run)
    spectra_steps = [r["step"] for r in records(run / "spectra.jsonl")]
    assert spectra_steps == sorted(set(spectra_steps)) and spectra_steps[0] == 0
