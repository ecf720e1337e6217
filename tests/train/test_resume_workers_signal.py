"""A graceful stop with DataLoader workers: a signal to the whole process group (Ctrl-C, SLURM) must
not kill the workers mid-step; the main process checkpoints, exits 75, and a rerun finishes."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import torch

from sngan.run.layout import list_checkpoints

from conftest import run_cli, sngan_exe

STEPS = 40
ONE_THREAD = dict(os.environ, OMP_NUM_THREADS="1")
ARGS = ["dataset.resolution=8", "batch_size=8", "arch.g_ch=16", "arch.d_ch=8", "device=cpu", "train.progress=false",
        "train.n_samples=4", f"train.steps={STEPS}", "train.log_every=1", "train.ckpt_every=1000",
        "metrics.every.sigma=1000", "train.sample_every=1000", "metrics.enabled=false",
        "dataset.in_memory=false", "train.num_workers=2"]


def logged_steps(run_dir) -> list[int]:
    path = os.path.join(run_dir, "scalars.jsonl")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [r["step"] for r in map(json.loads, f) if r["tag"] == "loss/D"]


def test_sigterm_to_process_group_with_workers_checkpoints_and_resumes(tmp_path):
    run = tmp_path / "run"
    args = ["train", *ARGS, f"hydra.run.dir={run}"]
    proc = subprocess.Popen(sngan_exe() + args, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=ONE_THREAD, start_new_session=True)  # its own group, as under a shell
    try:
        deadline = time.time() + 120
        while proc.poll() is None and time.time() < deadline and len(logged_steps(run)) < 2:
            time.sleep(0.01)
        assert proc.poll() is None, "training ended before the signal"
        os.killpg(proc.pid, signal.SIGTERM)  # workers get it too, as from a terminal or scheduler
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 75, err
    assert "Traceback" not in err, err
    saved = list_checkpoints(str(run))
    stopped_at = torch.load(saved[0], weights_only=True)["step"]
    assert 2 <= stopped_at < STEPS

    run_cli(args, cwd=tmp_path, env={"OMP_NUM_THREADS": "1"})
    assert torch.load(list_checkpoints(str(run))[0], weights_only=True)["step"] == STEPS
    assert logged_steps(run) == list(range(1, STEPS + 1))
