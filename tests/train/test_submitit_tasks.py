"""Multi-GPU SLURM jobs from the launcher: a submitit job of 2 tasks trains as one data-parallel run (here
with submitit's local executor and 2 gloo ranks on the CPU)."""
from __future__ import annotations

import os

import pytest
import torch

from conftest import SMALL, compose_train

submitit = pytest.importorskip("submitit")


def test_two_submitit_tasks_train_one_run(tmp_path):
    from sngan.train import train

    cfg = compose_train([*SMALL, "train.steps=2", "batch_size=8", "train.ckpt_every=2", "train.log_every=1"],
                        run_dir=tmp_path / "run")
    executor = submitit.LocalExecutor(folder=str(tmp_path / "submitit"))
    executor.update_parameters(tasks_per_node=2, nodes=1, timeout_min=10, gpus_per_node=0)
    job = executor.submit(train, cfg)
    results = job.results()  # one per task
    assert len(results) == 2
    assert results[0]["loss/D"] == results[1]["loss/D"]  # losses averaged over the two ranks
    run = tmp_path / "run"
    assert sorted(os.listdir(run / "checkpoints")) == ["ckpt_000000002.pt"]  # one folder, rank 0 wrote
    state = torch.load(run / "checkpoints" / "ckpt_000000002.pt", weights_only=True)
    assert state["step"] == 2
    from sngan.run.logger import read_scalars

    rows = [(r["step"], r["tag"]) for r in read_scalars(str(run / "scalars.jsonl"))]
    assert rows and len(rows) == len(set(rows))  # rank 0 alone wrote: every tag once per step


def test_launcher_config_gives_one_task_per_gpu():
    from hydra import compose, initialize_config_module

    with initialize_config_module("sngan.conf", version_base="1.3"):
        cfg = compose("train", overrides=["hydra/launcher=slurm", "hydra.launcher.gpus_per_node=4"],
                      return_hydra_config=True)
    assert cfg.hydra.launcher.tasks_per_node == 4
