"""The loop's device paths, checked on the CPU where they can be (load path, device-side non-finite flag, no D
grads in the G step, no graph breaks under compile), and on a GPU by the `gpu`-marked tests."""
from __future__ import annotations

import pytest
import torch
import torch._dynamo as dynamo
from torch import nn

from conftest import compose_train
from sngan.errors import ConfigError, NonFiniteError
from sngan.run.layout import list_checkpoints
from sngan.train import train
from sngan.build import build_models, model_recipe
from sngan.train.finite import FiniteGuard
from sngan.train.parallel import Parallel

gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def test_resume_reads_checkpoints_onto_the_cpu_and_restores_cpu_rng_states(small_cfg, monkeypatch):
    cfg = small_cfg("train.steps=2", "train.ckpt_every=2")
    train(cfg)
    import sngan.run.checkpoints as checkpoints
    import sngan.train.resume as resume

    seen, rng_types = [], []
    real_load, real_set = torch.load, resume.set_rng_states
    monkeypatch.setattr(checkpoints.torch, "load", lambda *a, **kw: seen.append(kw.get("map_location")) or
                        real_load(*a, **kw))
    monkeypatch.setattr(resume, "set_rng_states", lambda state: rng_types.append(state["torch"].device) or
                        real_set(state))
    cfg.train.steps = 4
    train(cfg)
    assert seen and all(m == "cpu" for m in seen)  # never map_location=device: RNG states must stay CPU tensors
    assert rng_types == [torch.device("cpu")]
    state = torch.load(list_checkpoints(cfg.run_dir)[0], weights_only=True)
    assert state["step"] == 4 and all(s["step"].device.type == "cpu" for s in state["opt_G"]["state"].values())


def test_device_flag_skips_the_bad_step_and_halts_at_the_next_poll():
    p = nn.Parameter(torch.ones(3))
    opt = torch.optim.Adam([p], lr=0.1, fused=True)  # fused Adam runs on the CPU too, found_inf included
    guard = FiniteGuard(True, deferred=True, device=torch.device("cpu"))
    for step, grad in enumerate([1.0, float("nan"), 1.0], start=1):
        p.grad = torch.full((3,), grad)
        guard.check((p * 0).sum(), [p], "D", step, opt)
        before = p.detach().clone()
        opt.step()
        if step == 2:
            assert torch.equal(p.detach(), before)  # skipped on the device, no host read
    with pytest.raises(NonFiniteError, match="non-finite D loss or gradient at step 2"):
        guard.poll()
    assert opt.state[p]["step"].item() == 2  # the skipped step is not counted


def test_the_g_step_computes_no_gradients_for_d(small_cfg, monkeypatch):
    import sngan.train.entry as entry

    flags, real_build = [], entry.build_models

    def build(*args, **kwargs):
        G, D = real_build(*args, **kwargs)
        D.register_forward_pre_hook(lambda m, _: flags.append(torch.is_grad_enabled() and
                                                              any(p.requires_grad for p in m.parameters())))
        return G, D

    monkeypatch.setattr(entry, "build_models", build)
    train(small_cfg("train.steps=2", "optim.n_dis=2", "metrics.every.sigma=1000"))
    # the sigma metric's one eager probe of D's input sizes (no grad), then per G update: two D steps with D's
    # grads, then the G step without
    assert flags == [False] + [True, True, False] * 2


@pytest.mark.parametrize("overrides", [["norm=sn"], ["arch=resnet", "arch.g_ch=16", "arch.d_ch=16"],
                                       ["arch=resnet", "arch.cond=true", "arch.g_ch=16", "arch.d_ch=16"]])
def test_no_graph_breaks_from_sngan_code_under_compile(overrides):
    cfg = compose_train(overrides)
    cfg.norm_g = "sn"
    G, D = build_models(model_recipe(cfg), "cpu")
    y = torch.zeros(4, dtype=torch.long) if cfg.arch.get("cond") else None
    for net, x in ((D, torch.randn(4, 1, 16, 16)), (G, torch.randn(4, 128))):
        explained = dynamo.explain(net)(x, y)
        assert explained.graph_break_count == 0, explained.break_reasons
    assert all(not m._forward_hooks for m in D.modules())  # the Lipschitz probe left no hook behind


def test_torchrun_refuses_an_explicit_gpu_index():
    with pytest.raises(ConfigError, match="device=cuda or device=auto"):
        Parallel(rank=1, world=2).device(torch.device("cuda", 0))


@pytest.mark.gpu
@gpu
def test_gpu_run_resumes_and_a_g_update_has_no_host_sync(small_cfg):
    cfg = small_cfg("device=cuda", "train.steps=2", "train.ckpt_every=2", "train.log_every=4")
    train(cfg)
    cfg.train.steps = 4  # resume on the GPU from the step-2 checkpoint
    train(cfg)
    assert torch.load(list_checkpoints(cfg.run_dir)[0], weights_only=True)["step"] == 4

    import sngan.train.loop as loop

    cfg = small_cfg("device=cuda", "train.steps=3", "train.log_every=3", "metrics.every.sigma=1000",
                    "train.sample_every=1000", "train.ckpt_every=1000")
    cfg.run_dir = cfg.run_dir + "-sync"
    real_update = loop.update_ema

    def strict_update(ema, G, step):  # step 2's whole G update ran under "error": any host sync raised
        torch.cuda.set_sync_debug_mode(0)
        real_update(ema, G, step)
        torch.cuda.set_sync_debug_mode("error" if step == 1 else 0)

    loop.update_ema = strict_update
    try:
        train(cfg)
    finally:
        loop.update_ema = real_update
        torch.cuda.set_sync_debug_mode(0)
