"""best.pt by the primary metric; the console's start/metric/end lines; a rerun of the same command (no
hydra.run.dir) resumes bitwise in the folder named by the run."""
from __future__ import annotations

import os

import torch

from conftest import SMALL, run_cli
from sngan.run.checkpoints import load_checkpoint, read_best
from sngan.run.layout import list_checkpoints
from sngan.train import train


def test_best_pt_holds_the_lowest_fid_step(small_cfg, monkeypatch):
    import sngan.metrics.image_quality as fidelity  # the registered entry imports these by name: patched there

    scripted = iter([5.0, 3.0, 4.0])
    monkeypatch.setattr(fidelity, "resolve_spec", lambda *a: object())
    monkeypatch.setattr(fidelity, "reference_for", lambda *a: object())
    monkeypatch.setattr(fidelity, "compute_metrics", lambda *a, **kw: ({"metrics/FID_digits": next(scripted)},
                                                                        {"scripted": True}))
    cfg = small_cfg("train.steps=6", "metrics.enabled=true", "metrics.every.fidelity=2", "train.ckpt_every=6",
                    "metrics.real_reference=false")
    train(cfg)
    best = read_best(cfg.run_dir)
    assert best == {"metric": "metrics/FID_digits", "value": 3.0, "step": 4}
    state = load_checkpoint(os.path.join(cfg.run_dir, "checkpoints", "best.pt"))
    assert state["step"] == 4 and state["best"]["step"] == 4
    assert all(not p.endswith("best.pt") for p in list_checkpoints(cfg.run_dir))  # kept apart from the rolling ones


def test_rerun_of_the_same_command_resumes_bitwise_and_talks(tmp_path):
    args = ["train", *SMALL, "train.steps=4", "train.ckpt_every=2", "seed=3"]
    straight = run_cli(["train", *SMALL, "train.steps=4", "train.ckpt_every=2", "seed=3", "name=straight"],
                       cwd=tmp_path)
    assert "sngan train: 4 G updates | run folder" in straight.stdout
    assert "sngan train: done at step 4" in straight.stdout and "tensorboard --logdir" in straight.stdout
    half = run_cli([*args[:-2], "train.steps=2", "train.ckpt_every=2", "seed=3"], cwd=tmp_path)
    folder = tmp_path / "outputs" / "digits"
    runs = sorted(os.listdir(folder))
    assert len(runs) == 2 and "straight" in runs  # the unnamed run got its own, defined name
    named = next(r for r in runs if r != "straight")
    assert named.startswith("dcgan-hinge-sn-default-s3-")  # SMALL's batch_size=16 adds a hash
    rerun = run_cli([*args[:-2], "train.steps=4", "train.ckpt_every=2", "seed=3"], cwd=tmp_path)  # train.steps extends in place
    assert "resumed from" in rerun.stdout and sorted(os.listdir(folder)) == runs
    a = torch.load(list_checkpoints(str(folder / "straight"))[0], weights_only=True)
    b = torch.load(list_checkpoints(str(folder / named))[0], weights_only=True)
    assert a["step"] == b["step"] == 4
    for net in ("G", "D"):
        assert all(torch.equal(a[net][k], b[net][k]) for k in a[net])
    done = run_cli([*args[:-2], "train.steps=4", "train.ckpt_every=2", "seed=3"], cwd=tmp_path)
    assert "already finished" in done.stdout and "train.steps=8" in done.stdout and "name=" in done.stdout
    assert half.returncode == 0


def test_a_cpu_run_logs_its_threads_beside_its_clock(small_cfg):
    import torch

    from sngan.run.layout import read_jsonl
    from sngan.train import train

    cfg = small_cfg("train.steps=2", "train.log_every=1")
    train(cfg)
    rows = read_jsonl(f"{cfg.run_dir}/scalars.jsonl")
    threads = {r["step"]: r["value"] for r in rows if r["tag"] == "time/cpu_threads"}
    clock = {r["step"] for r in rows if r["tag"] == "time/sec_per_100_G_updates"}
    assert set(threads) == clock == {1, 2} and set(threads.values()) == {float(torch.get_num_threads())}
