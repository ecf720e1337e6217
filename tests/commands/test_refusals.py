"""Refused commands touch nothing that is not theirs, and printed commands do what they say.

Every bad input of the table exits 2 with one line on stderr and no traceback, and leaves the workspace exactly
as it was: a finished run (its records, checkpoints and logs), a folder the user made, and no new file or
folder anywhere. After a stop, the printed resume command, run verbatim, resumes the same run in the same folder
at the step it stopped, for the default folder, hydra.run.dir, name= and a sweep job.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import signal
import subprocess
import time

import pytest

from conftest import run_cli, sngan_exe

RING = ["dataset=ring8", "arch=mlp", "train.progress=false"]
FINISHED = "outputs/ring8/mlp-bce-sn-default-s0"


def snapshot(root) -> dict:
    """Every file (with its content hash) and every folder under root."""
    seen = {}
    for folder, dirs, files in os.walk(root):
        seen[os.path.relpath(folder, root) + "/"] = None
        for name in files:
            path = os.path.join(folder, name)
            with open(path, "rb") as f:
                seen[os.path.relpath(path, root)] = hashlib.sha256(f.read()).hexdigest()
    return seen


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A finished default-named run, a folder the user made (with a file, an empty folder and a notes file
    passed as a checkpoint), and an image folder whose files are all undecodable."""
    root = tmp_path_factory.mktemp("workspace")
    run_cli(["train", *RING, "train.steps=4"], cwd=root)
    (root / "mine" / "keepme").mkdir(parents=True)
    (root / "mine" / "empty").mkdir()
    (root / "mine" / "notes.txt").write_text("my notes\n")
    (root / "broken" / "cls").mkdir(parents=True)
    (root / "broken" / "cls" / "a.png").write_text("not an image")
    return root


BAD_INPUTS = [
    (["train", "train.steps=abc"], "train.steps must be a whole number"),
    (["train", *RING, "+train.batch_size=0"], "did you mean batch_size"),
    (["train", *RING, "train.batch_size=0"], "unknown key train.batch_size: did you mean batch_size"),
    (["train", *RING, "+nosuch=1"], "unknown key nosuch"),
    (["train", "arch.g_ch=-4"], "arch.g_ch must be >= 1"),
    (["train", "arch.g_ch=0"], "arch.g_ch must be >= 1"),
    (["train", "norm=nosuch"], "norm/nosuch"),
    (["train", *RING, "norm=wc", f"hydra.run.dir={FINISHED}"], "cannot resume"),    # the finished run's config
    (["train", "dataset=digits", "arch=dcgan", f"hydra.run.dir={FINISHED}"], "cannot resume"),  # stays its own
    (["train", *RING, "batch_size=0", "hydra.run.dir=mine/keepme/run"], "batch_size must be >= 1"),
    (["train", *RING, "batch_size=0", "hydra.run.dir=mine/empty"], "batch_size must be >= 1"),
    (["train", *RING, "hydra.run.dir=mine/notes.txt/run"], "not a folder"),
    (["train", "dataset=cifar10", "dataset.download=false", "hydra.run.dir=mine/keepme/run"], "sngan fetch"),
    (["train", "dataset=imagenet", "dataset.root=mine/nowhere", "hydra.run.dir=mine/keepme/run"], "dataset.root"),
    (["train", "dataset=imagenet", "dataset.root=broken", "arch=dcgan", "dataset.resolution=32",
      "hydra.run.dir=mine/keepme/run"], "readable image"),
    (["train", "-m", *RING, "seed=0,1", "batch_size=0"], "batch_size must be >= 1"),
    (["sample", "ckpt=mine/notes.txt", "out=mine/x.png"], "not a checkpoint"),
    (["sample", "ckpt=mine/empty", "out=mine/x.png"], "ckpt"),
    (["eval", "ckpt=mine/notes.txt"], "not a checkpoint"),
    (["trian"], "unknown command"),
]


@pytest.mark.slow
@pytest.mark.parametrize("argv, fragment", BAD_INPUTS, ids=[" ".join(a[0:1] + a[-1:]) for a, _ in BAD_INPUTS])
def test_a_refused_command_says_one_line_and_changes_nothing(workspace, argv, fragment):
    before = snapshot(workspace)
    proc = run_cli(argv, cwd=workspace, check=False, env={"TORCH_HOME": str(workspace / "mine" / "empty")})
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and fragment in lines[0], proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert snapshot(workspace) == before  # no file rewritten (.hydra, run.yaml), no folder deleted or left


# ---- printed commands, run verbatim ---------------------------------------------------------------------------

def last_step(run_dir) -> int:
    path = os.path.join(run_dir, "scalars.jsonl")
    if not os.path.exists(path):
        return 0
    with open(path) as f:
        return max((json.loads(line)["step"] for line in f if line.strip()), default=0)


def stop_after(args, cwd, run_dir, step=10) -> tuple[str, int]:
    """Start `sngan ARGS`, SIGTERM it once run_dir has logged `step`; (its stderr, the step it stopped at)."""
    proc = subprocess.Popen(sngan_exe() + args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while last_step(run_dir) < step and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 75, err
    stopped = int(re.search(r"after step (\d+)", err).group(1))
    return err, stopped


def printed_command(err: str) -> list[str]:
    command = re.search(r"rerun `([^`]+)` to resume", err).group(1)
    words = shlex.split(command)
    assert words[:2] == ["sngan", "train"]
    return words[1:]


def resumes_at(args, cwd) -> str:
    """Run the printed command until it says where it resumed; returns that line."""
    proc = subprocess.Popen(sngan_exe() + args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for line in proc.stdout:
            if line.startswith(("resumed from", "sngan train:")):
                return line.strip()
        return ""
    finally:
        proc.kill()
        proc.wait()


LONG = [*RING, "train.steps=100000", "train.log_every=2", "metrics.every.modes=100000", "metrics.every.sigma=100000"]


@pytest.mark.slow
@pytest.mark.parametrize("where", ["default", "hydra.run.dir", "name", "multirun"])
def test_the_printed_resume_command_resumes_this_run_in_its_folder(tmp_path, where):
    elsewhere = tmp_path / "elsewhere"  # the printed command is run from another directory for explicit folders
    elsewhere.mkdir()
    if where == "default":
        args, run_dir, cwd_again = LONG, tmp_path / "outputs/ring8/mlp-bce-sn-default-s0", tmp_path
    elif where == "hydra.run.dir":
        args, run_dir, cwd_again = LONG + [f"hydra.run.dir={tmp_path / 'mine' / 'r1'}"], tmp_path / "mine/r1", elsewhere
    elif where == "name":
        args, run_dir, cwd_again = LONG + ["name=myname"], tmp_path / "outputs/ring8/myname", tmp_path
    else:
        args = ["-m", *LONG, "seed=3", f"hydra.sweep.dir={tmp_path / 'sweep'}"]
        run_dir, cwd_again = tmp_path / "sweep/ring8/mlp-bce-sn-default-s3", elsewhere
    err, stopped = stop_after(["train", *args], tmp_path, run_dir)
    assert f"checkpoint {run_dir}" in err
    line = resumes_at(printed_command(err), cwd_again)
    assert line.startswith(f"resumed from {run_dir}/checkpoints/ckpt_{stopped:09d}.pt at step {stopped}"), line


@pytest.mark.slow
def test_a_finished_run_prints_a_command_that_extends_it_in_place(tmp_path):
    first = run_cli(["train", *RING, "train.steps=4", "name=short"], cwd=tmp_path)
    extend = re.search(r"extend:\s+(.+)", first.stdout).group(1)
    words = shlex.split(extend)
    assert words[:2] == ["sngan", "train"] and "train.steps=8" in words and "name=short" in words
    again = run_cli(words[1:], cwd=tmp_path)
    assert "resumed from" in again.stdout and "done at step 8" in again.stdout
    assert sorted(os.listdir(tmp_path / "outputs" / "ring8")) == ["short"]


@pytest.mark.slow
def test_a_slow_run_is_checkpointed_by_the_clock_and_resumes_from_it_bitwise(tmp_path):
    import torch

    timed = [*RING, "train.steps=40", "train.ckpt_every=1000", "train.keep_ckpts=100", "train.ckpt_minutes=0.0002"]
    run_cli(["train", *timed, f"hydra.run.dir={tmp_path / 'a'}"], cwd=tmp_path)
    steps = sorted(int(f[5:14]) for f in os.listdir(tmp_path / "a" / "checkpoints") if f.startswith("ckpt_"))
    assert len(steps) > 2 and steps[-1] == 40  # checkpoints at step boundaries long before ckpt_every
    middle = steps[len(steps) // 2]
    # the same run resumed from a clock checkpoint ends with the same weights as the uninterrupted one
    (tmp_path / "b").mkdir()
    os.system(f"cp -r {tmp_path / 'a'}/. {tmp_path / 'b'}")
    for step in steps:
        if step > middle:
            os.remove(tmp_path / "b" / "checkpoints" / f"ckpt_{step:09d}.pt")
    again = run_cli(["train", *timed, f"hydra.run.dir={tmp_path / 'b'}"], cwd=tmp_path)
    assert f"at step {middle}" in again.stdout
    a = torch.load(tmp_path / "a/checkpoints/ckpt_000000040.pt", weights_only=True)
    b = torch.load(tmp_path / "b/checkpoints/ckpt_000000040.pt", weights_only=True)
    assert all(torch.equal(a["G"][k], b["G"][k]) for k in a["G"])
    assert all(torch.equal(a["D"][k], b["D"][k]) for k in a["D"])
