"""The linear lr decay (optim.lr_decay) and G's own batch (optim.g_batch_size)."""
from __future__ import annotations

import pytest
import torch

from conftest import assert_same_training_state, compose_train, final_state
from sngan.errors import ConfigError
from sngan.run.layout import list_checkpoints
from sngan.run.logger import read_scalars
from sngan.train import train
from sngan.train.entry import read_config
from sngan.train.options import OptimOptions


def test_linear_decay_reaches_zero_at_the_last_step():
    o = OptimOptions(2e-4, 0.0, 0.9, 5, "linear", 0, None, "joint", "d_first", "torch")
    assert o.lr_at(0, 100) == 2e-4
    assert o.lr_at(50, 100) == pytest.approx(1e-4)
    assert o.lr_at(100, 100) == 0.0
    late = OptimOptions(2e-4, 0.0, 0.9, 5, "linear", 80, None, "joint", "d_first", "torch")
    assert late.lr_at(79, 100) == 2e-4 and late.lr_at(90, 100) == pytest.approx(1e-4)
    assert OptimOptions(2e-4, 0.0, 0.9, 5, "none", 0, None, "joint", "d_first", "torch").lr_at(100, 100) == 2e-4  # lr_decay none


def test_trained_run_logs_and_uses_the_decayed_lr(small_cfg):
    cfg = small_cfg("optim.lr_decay=linear", "train.steps=4", "train.log_every=1")
    train(cfg)
    lrs = {r["step"]: r["value"] for r in read_scalars(f"{cfg.run_dir}/scalars.jsonl") if r["tag"] == "optim/lr"}
    base = float(cfg.optim.lr)
    assert lrs == {1: pytest.approx(0.75 * base), 2: pytest.approx(0.5 * base), 3: pytest.approx(0.25 * base), 4: 0.0}
    state = torch.load(list_checkpoints(cfg.run_dir)[0], weights_only=True)
    assert state["opt_G"]["param_groups"][0]["lr"] == pytest.approx(0.25 * base)  # the lr of the last update


def test_decay_survives_resume_bitwise(small_cfg, tmp_path):
    straight = small_cfg("optim.lr_decay=linear", "train.steps=4", "train.ckpt_every=2")
    straight.run_dir = str(tmp_path / "straight")
    train(straight)
    midway = list_checkpoints(straight.run_dir)[1]  # step 2 of 4: the decay is half way
    assert midway.endswith("ckpt_000000002.pt")
    resumed = small_cfg("optim.lr_decay=linear", "train.steps=4", "train.ckpt_every=2", f"resume={midway}")
    resumed.run_dir = str(tmp_path / "resumed")
    train(resumed)
    # G, D, G_ema and both optimizers (their lr included), step and data position, bit for bit
    assert_same_training_state(final_state(straight.run_dir), final_state(resumed.run_dir))


def test_g_step_uses_g_batch_size_rows(small_cfg, monkeypatch):
    from sngan.gan.generate import Latents

    sizes = []
    original = Latents.noise
    monkeypatch.setattr(Latents, "noise", lambda self, n, device, *keys: sizes.append((n, keys)) or
                        original(self, n, device, *keys))
    cfg = small_cfg("optim.g_batch_size=24", "train.steps=1", "optim.n_dis=2")
    train(cfg)
    d_steps = [n for n, keys in sizes if len(keys) == 2 and keys[1] < 2]
    g_steps = [n for n, keys in sizes if len(keys) == 2 and keys[1] == 2]
    assert d_steps == [16, 16] and g_steps == [24]


@pytest.mark.parametrize("bad,fragment", [("optim.lr_decay=cosine", "optim.lr_decay"),
                                          ("optim.decay_start=-1", "optim.decay_start"),
                                          ("optim.g_batch_size=0", "optim.g_batch_size")])
def test_bad_schedule_values_name_the_key(bad, fragment):
    with pytest.raises(ConfigError, match=fragment):
        read_config(compose_train([bad]))
