"""Exact resume in-process: signals stop at a step boundary, NaN halts, finished runs stay untouched."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import signal

import pytest
import torch

from sngan.errors import EXIT_INTERRUPTED, EXIT_NONFINITE, ConfigError, NonFiniteError, TrainingInterrupted
from sngan.gan.losses import LOSSES
from sngan.run.checkpoints import load_checkpoint
from sngan.run.layout import RunFolder, list_checkpoints
from sngan.train import train

from conftest import assert_same_training_state, compose_train, final_state, send_signal_at

STEPS = 6
TINY = ["dataset.resolution=8", "batch_size=8", "arch.g_ch=32", "arch.d_ch=8", "device=cpu", "train.progress=false",
        "train.n_samples=4", f"train.steps={STEPS}", "train.log_every=1", "train.ckpt_every=2",
        "metrics.every.sigma=1000", "train.sample_every=1000", "ema.enabled=true", "ema.decay=0.9",
        "metrics.enabled=false",
        "setting=C", "loss=bce", "ema.start=0"]  # pinned, not the dataset's recommendation: lr 2e-4 (changed below)


def cfg_for(run_dir, *extra):
    return compose_train(TINY + list(extra), run_dir=run_dir)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """One uninterrupted run, the yardstick for every resumed one."""
    run = tmp_path_factory.mktemp("reference")
    train(cfg_for(run))
    return final_state(run)


def logged_steps(run_dir, tag="loss/D"):
    with open(os.path.join(run_dir, "scalars.jsonl")) as f:
        return [r["step"] for r in map(json.loads, f) if r["tag"] == tag]


def test_state_dicts_hold_bn_stats_and_sn_vectors(reference):
    assert any(k.endswith("running_mean") for k in reference["G"])
    assert any(k.endswith("_u") for k in reference["D"]) and any(k.endswith("_v") for k in reference["D"])
    assert reference["G_ema"] is not None and set(reference["rng"]) >= {"torch", "python", "numpy"}


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT", "SIGUSR1", "SIGUSR2"])
def test_signal_checkpoints_at_step_boundary(tmp_path, monkeypatch, sig):
    run = tmp_path / "run"
    handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1, signal.SIGUSR2)}
    send_signal_at(monkeypatch, getattr(signal, sig), at_step=2)  # odd boundary: no regular checkpoint there
    with pytest.raises(TrainingInterrupted, match=f"stopped by {sig} after step 3") as stopped:
        train(cfg_for(run))
    assert stopped.value.exit_code == EXIT_INTERRUPTED == 75
    assert final_state(run)["step"] == 3 and final_state(run)["data_position"] == 3
    assert logged_steps(run) == [1, 2, 3]
    assert {s: signal.getsignal(s) for s in handlers} == handlers  # handlers given back


def test_signal_handed_to_previous_handler_after_checkpoint(tmp_path, monkeypatch):
    """A handler installed before training (submitit's preemption handler, which requeues the job)
    still gets the signal, once the checkpoint it would resume from is on disk."""
    run, calls = tmp_path / "run", []

    def previous(signum, frame):  # records what a requeue would find on disk
        calls.append((signum, [torch.load(p, weights_only=True)["step"] for p in list_checkpoints(str(run))]))
    old = signal.signal(signal.SIGUSR2, previous)
    try:
        send_signal_at(monkeypatch, signal.SIGUSR2, at_step=2)
        with pytest.raises(TrainingInterrupted, match="stopped by SIGUSR2 after step 3"):
            train(cfg_for(run))
        assert calls == [(signal.SIGUSR2, [3, 2])]  # once, after the stop checkpoint was written
        assert signal.getsignal(signal.SIGUSR2) is previous
    finally:
        signal.signal(signal.SIGUSR2, old)


def test_resume_after_signal_neither_repeats_nor_skips(tmp_path, monkeypatch, reference):
    run = tmp_path / "run"
    send_signal_at(monkeypatch, signal.SIGTERM, at_step=2)
    with pytest.raises(TrainingInterrupted):
        train(cfg_for(run))
    monkeypatch.undo()
    train(cfg_for(run))
    assert logged_steps(run) == list(range(1, STEPS + 1))  # no step repeated, none skipped
    assert_same_training_state(final_state(run), reference)


def test_resume_from_other_run_folder(tmp_path, reference):
    first, second = tmp_path / "first", tmp_path / "second"
    train(cfg_for(first, "train.steps=4"))
    train(cfg_for(second, f"resume={first}", "train.num_workers=0", "dataset.in_memory=false"))
    assert logged_steps(second) == [5, 6]
    assert_same_training_state(final_state(second), reference)
    assert len(list_checkpoints(str(first))) == 2 and final_state(first)["step"] == 4  # source untouched


def test_killed_run_logs_are_rewound_and_corrupt_newest_falls_back(tmp_path, reference):
    run = tmp_path / "run"
    train(cfg_for(run, "train.steps=4"))
    newest = list_checkpoints(str(run))[0]
    open(newest, "r+b").truncate(1000)  # as if the disk lost the last write: resume from step 2
    with open(run / "metrics.jsonl", "w") as f:  # evaluations the killed run made (metrics are off here)
        f.writelines(json.dumps({"step": s, "metrics": {"metrics/IS": 1.0}}) + "\n" for s in (2, 4))
    train(cfg_for(run))
    assert logged_steps(run) == list(range(1, STEPS + 1))
    with open(run / "metrics.jsonl") as f:
        assert [json.loads(line)["step"] for line in f] == [2]  # step 4's record went with its checkpoint
    assert_same_training_state(final_state(run), reference)


def tree_fingerprint(root) -> dict:
    out = {}
    for d, _, files in os.walk(root):
        for name in files:
            p = os.path.join(d, name)
            out[p] = (os.stat(p).st_mtime_ns, hashlib.sha256(open(p, "rb").read()).hexdigest())
    return out


def test_rerunning_finished_run_changes_nothing(tmp_path, capsys):
    run = tmp_path / "run"
    train(cfg_for(run, "train.steps=2", "train.sample_every=2"))
    before = tree_fingerprint(run)
    assert train(cfg_for(run, "train.steps=2", "train.sample_every=2")) == {}
    assert "already finished" in capsys.readouterr().out
    assert tree_fingerprint(run) == before


def test_changed_config_refused_unless_forced(tmp_path):
    run = tmp_path / "run"
    train(cfg_for(run, "train.steps=2"))
    before = tree_fingerprint(run)
    with pytest.raises(ConfigError, match=r"optim\.lr.*resume_force=true"):
        train(cfg_for(run, "train.steps=4", "optim.lr=1e-3"))
    assert tree_fingerprint(run) == before
    train(cfg_for(run, "train.steps=4", "optim.lr=1e-3", "resume_force=true"))
    assert final_state(run)["step"] == 4


def poison(monkeypatch, name: str, at_call: int, where: str, loss_name: str = "bce"):
    """Make the at_call-th call of the run's d_loss/g_loss non-finite: the loss itself or only its gradient.
    The trainer takes its Loss from sngan.gan.losses.LOSSES (frozen entries: replaced, not mutated)."""
    real = getattr(LOSSES[loss_name], name)
    calls = {"n": 0}

    def loss(*args):
        calls["n"] += 1
        value = real(*args)
        if calls["n"] != at_call:
            return value
        if where == "loss":
            return value * float("nan")
        logits = args[-1]  # finite loss, infinite gradient: d sqrt(x)/dx at x = 0
        return value + torch.sqrt(logits.sum() * 0.0)
    monkeypatch.setitem(LOSSES, loss_name, dataclasses.replace(LOSSES[loss_name], **{name: loss}))


@pytest.mark.parametrize("name,where", [("d_loss", "loss"), ("g_loss", "grad")])
def test_nan_halts_before_optimizer_step(tmp_path, monkeypatch, name, where):
    run = tmp_path / "run"
    cfg = cfg_for(run)
    # during step 4, after the step-2 checkpoint
    poison(monkeypatch, name, at_call=4, where=where, loss_name=str(cfg.loss.name))
    with pytest.raises(NonFiniteError) as halted:
        train(cfg)
    message = str(halted.value)
    good = RunFolder(str(run)).checkpoint(2)
    assert f"non-finite {'D' if name == 'd_loss' else 'G'} loss or gradient" in message
    assert "at step 4" in message and good in message
    assert halted.value.exit_code == EXIT_NONFINITE == 3
    assert list_checkpoints(str(run)) == [good]
    state = load_checkpoint(good)  # intact: its digest still matches
    assert all(torch.isfinite(v).all() for v in state["G"].values() if v.is_floating_point())
    assert logged_steps(run) == [1, 2, 3]
