"""The metrics through the installed CLI: offline refusal before any work (`sngan eval`: commands/test_eval.py)."""
from __future__ import annotations

import os

from conftest import run_cli


def offline_env(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "SNGAN_INCEPTION_WEIGHTS"}
    env.update(TORCH_HOME=str(tmp_path / "torch"), SNGAN_CACHE=str(tmp_path / "cache"))
    return env


def test_train_refuses_without_inception_weights_before_loading_data(tmp_path, monkeypatch):
    monkeypatch.delenv("SNGAN_INCEPTION_WEIGHTS", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    # dataset.download=false: missing CIFAR-10 files are otherwise downloaded (the default), needing internet
    args = ["train", "dataset=cifar10", f"dataset.root={tmp_path / 'no_cifar_here'}", "dataset.download=false",
            "metrics.download_weights=false", "device=cpu", "train.progress=false", f"hydra.run.dir={tmp_path / 'run'}"]
    proc = run_cli(args, cwd=tmp_path, check=False)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Inception weights" in lines[0]
    for fix in ("sngan fetch", "metrics.inception_weights=PATH", "SNGAN_INCEPTION_WEIGHTS", "metrics.enabled=false"):
        assert fix in lines[0]
    assert not (tmp_path / "run" / "checkpoints").exists()
    # the way out named in the message works: the run then gets as far as the (missing) data
    proc = run_cli(args + ["metrics.enabled=false"], cwd=tmp_path, check=False)
    assert proc.returncode == 2 and "cifar10 not found" in proc.stderr and "Inception" not in proc.stderr
