"""SIGKILL at a random moment through the installed CLI, then a rerun: bitwise the same final G, D,
G_ema and optimizer states as an uninterrupted run, through the DataLoader with 0 and 2 workers."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time

import pytest


from conftest import assert_same_training_state, final_state, run_cli, sngan_exe

STEPS = 12
ONE_THREAD = dict(os.environ, OMP_NUM_THREADS="1")  # same in every run; spares a busy machine
ARGS = ["dataset.resolution=8", "batch_size=8", "arch.g_ch=32", "arch.d_ch=8", "device=cpu", "train.progress=false", "train.n_samples=4",
        f"train.steps={STEPS}", "train.log_every=1", "train.ckpt_every=3", "metrics.every.sigma=1000",
        "train.sample_every=1000", "ema.enabled=true", "ema.decay=0.9", "metrics.enabled=false",
        "dataset.in_memory=false"]  # through the DataLoader, so num_workers matters


def logged_steps(run_dir) -> list[int]:
    with open(os.path.join(run_dir, "scalars.jsonl")) as f:
        return [r["step"] for r in map(json.loads, f) if r["tag"] == "loss/D"]


def kill_at_random_moment(run_dir, workers: int, rng: random.Random) -> int:
    """Start training, SIGKILL it once it has logged a random step plus a random fraction of a step."""
    target, extra = rng.randint(1, STEPS - 4), rng.uniform(0.0, 0.05)
    proc = subprocess.Popen(sngan_exe() + ["train", *ARGS, f"hydra.run.dir={run_dir}", f"train.num_workers={workers}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ONE_THREAD)
    scalars = os.path.join(run_dir, "scalars.jsonl")
    deadline = time.time() + 300
    while proc.poll() is None and time.time() < deadline:
        if os.path.exists(scalars) and (logged_steps(run_dir) or [0])[-1] >= target:
            break
        time.sleep(0.01)
    time.sleep(extra)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, f"training ended (rc {proc.returncode}) before the kill at step {target}"
    return target


@pytest.mark.slow
def test_sigkill_then_rerun_is_bitwise_identical(tmp_path):
    ref = tmp_path / "reference"
    run_cli(["train", *ARGS, f"hydra.run.dir={ref}", "train.num_workers=0"], cwd=tmp_path, env=ONE_THREAD)
    expected = final_state(ref)
    rng = random.Random()
    for killed_with, resumed_with in [(2, 0), (0, 2)]:
        run = tmp_path / f"killed_{killed_with}"
        target = kill_at_random_moment(run, killed_with, rng)
        run_cli(["train", *ARGS, f"hydra.run.dir={run}", f"train.num_workers={resumed_with}"], cwd=tmp_path,
                env=ONE_THREAD)
        got = final_state(run)
        assert got["step"] == STEPS and logged_steps(run) == list(range(1, STEPS + 1)), target
        assert_same_training_state(expected, got)


@pytest.mark.slow
def test_sigterm_through_cli_checkpoints_and_exits_75(tmp_path):
    run = tmp_path / "run"
    proc = subprocess.Popen(sngan_exe() + ["train", *ARGS, f"hydra.run.dir={run}"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=ONE_THREAD)
    deadline = time.time() + 300
    while proc.poll() is None and time.time() < deadline and len(logged_steps(run) if (run / "scalars.jsonl").exists() else []) < 2:
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 75, err
    stopped_at = final_state(run)["step"]
    assert f"stopped by SIGTERM after step {stopped_at}" in err and stopped_at < STEPS
    assert logged_steps(run) == list(range(1, stopped_at + 1))
