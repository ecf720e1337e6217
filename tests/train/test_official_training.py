"""The authors' training, piece by piece: their step order (optim.step_order), Chainer's Adam (optim.adam_eps), and
the presets that set them; each pinned against hand-written values, and resumed bitwise."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from conftest import compose_train
from sngan.gan.generate import Latents
from sngan.train import train
from sngan.train.models import ChainerAdam

from train.test_resume import assert_same_training_state, cfg_for, final_state, send_signal_at


def chainer_adam(params, grads, alpha, beta1, beta2, eps, steps):
    """chainer.optimizers.Adam written out (chainer/optimizers/adam.py, AdamRule.update_core_cpu):
    m += (1 - b1)(g - m); v += (1 - b2)(g^2 - v); lr_t = alpha sqrt(1 - b2^t) / (1 - b1^t); p -= lr_t m / (sqrt(v) + eps)."""
    p = [x.copy() for x in params]
    m = [np.zeros_like(x) for x in params]
    v = [np.zeros_like(x) for x in params]
    for t in range(1, steps + 1):
        lr_t = alpha * math.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
        for i, g in enumerate(grads[t - 1]):
            m[i] += (1 - beta1) * (g - m[i])
            v[i] += (1 - beta2) * (g * g - v[i])
            p[i] -= lr_t * m[i] / (np.sqrt(v[i]) + eps)
    return p, m, v


@pytest.mark.parametrize("beta1, beta2", [(0.5, 0.999), (0.0, 0.9)])
def test_chainer_adam_is_chainers_update_for_three_steps(beta1, beta2):
    rng = np.random.default_rng(0)
    start = [rng.normal(size=(4, 3)), rng.normal(size=5)]
    # tiny gradients where eps matters (the zero-gradient biases before a batch norm), and ordinary ones
    grads = [[rng.normal(size=(4, 3)) * 1e-7, rng.normal(size=5)] for _ in range(3)]
    expected, m, v = chainer_adam(start, grads, 2e-4, beta1, beta2, 1e-8, 3)
    params = [nn.Parameter(torch.tensor(x)) for x in start]
    opt = ChainerAdam(params, lr=2e-4, betas=(beta1, beta2))
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = torch.tensor(g)
        opt.step()
    for p, e, mi, vi in zip(params, expected, m, v):
        np.testing.assert_allclose(p.detach().numpy(), e, rtol=1e-13, atol=1e-16)
        np.testing.assert_allclose(opt.state[p]["exp_avg"].numpy(), mi, rtol=1e-13)
        np.testing.assert_allclose(opt.state[p]["exp_avg_sq"].numpy(), vi, rtol=1e-13)
    torch_adam = [nn.Parameter(torch.tensor(x)) for x in start]  # torch's own placement differs where eps matters
    plain = torch.optim.Adam(torch_adam, lr=2e-4, betas=(beta1, beta2))
    for step_grads in grads:
        for p, g in zip(torch_adam, step_grads):
            p.grad = torch.tensor(g)
        plain.step()
    assert not np.allclose(torch_adam[0].detach().numpy(), expected[0], rtol=1e-6, atol=0)


def test_chainer_adams_step_count_travels_with_its_state_dict():
    torch.manual_seed(0)
    make = lambda: [nn.Parameter(torch.randn(3, dtype=torch.float64))]
    a_params = make()
    a = ChainerAdam(a_params, lr=1e-3, betas=(0.0, 0.9))
    for _ in range(2):
        a_params[0].grad = torch.full((3,), 1e-6, dtype=torch.float64)
        a.step()
    b_params = [nn.Parameter(a_params[0].detach().clone())]
    b = ChainerAdam(b_params, lr=1e-3, betas=(0.0, 0.9))
    b.load_state_dict(a.state_dict())
    assert b.param_groups[0]["chainer_t"] == 2
    for params, opt in ((a_params, a), (b_params, b)):
        params[0].grad = torch.full((3,), 1e-6, dtype=torch.float64)
        opt.step()
    assert torch.equal(a_params[0], b_params[0])
    assert a.param_groups[0]["eps"] == 1e-8 / math.sqrt(1 - 0.9 ** 3)


# ---- the step order -----------------------------------------------------------------------------------------

def record_one_update(monkeypatch, small_cfg, order: str, n_dis: int = 2):
    """The sequence of noise draws and optimizer steps of the first G update, in order."""
    from sngan.train.entry import bare_training, read_config
    from sngan.train.step import train_step

    setup = read_config(small_cfg(f"optim.step_order={order}", f"optim.n_dis={n_dis}", "setting=A", "norm=gp",
                                  "loss=wgan"))
    models, plan, stream = bare_training(setup, torch.device("cpu"))
    events = []
    real_noise = Latents.noise
    monkeypatch.setattr(Latents, "noise", lambda self, n, device, *keys: events.append(("noise", keys)) or
                        real_noise(self, n, device, *keys))
    for name, opt in (("G", models.opt_G), ("D", models.opt_D)):
        real_step = opt.step
        monkeypatch.setattr(opt, "step", lambda *a, _n=name, _s=real_step, **k: events.append(("step", _n)) or _s(*a, **k))
    train_step(models, plan, stream, 0)
    return events


def test_the_order_of_one_iteration(monkeypatch, small_cfg):
    n = ("noise", )
    assert record_one_update(monkeypatch, small_cfg, "d_first") == [
        n + ((0, 0),), ("step", "D"), n + ((0, 1),), ("step", "D"), n + ((0, 2),), ("step", "G")]
    assert record_one_update(monkeypatch, small_cfg, "g_first") == [
        n + ((0, 2),), ("step", "G"), n + ((0, 0),), ("step", "D"), n + ((0, 1),), ("step", "D")]
    # wgan_gp/updater.py: D step 0's fakes serve the G step, which is taken before D step 0's own update
    assert record_one_update(monkeypatch, small_cfg, "g_first_shared") == [
        n + ((0, 0),), ("step", "G"), ("step", "D"), n + ((0, 1),), ("step", "D")]


def test_g_first_shared_trains_g_and_d_step_0_on_the_same_fakes(small_cfg):
    """G's gradient is the one through D's outputs on D step 0's fakes; D step 0's gradient is that of its loss on the
    same outputs, with G's update unseen (the official x_fake.unchain_backward())."""
    import copy

    from sngan.train.entry import bare_training, read_config
    from sngan.train.step import real_images, shared_step

    setup = read_config(small_cfg("optim.step_order=g_first_shared", "setting=A", "norm=gp", "loss=wgan",
                                  "optim.d_forward=separate"))
    models, plan, stream = bare_training(setup, torch.device("cpu"))
    G0, D0 = copy.deepcopy(models.G), copy.deepcopy(models.D)
    batch = stream.next()
    shared_step(models, plan, batch, 0)
    # by hand, from copies: one G forward, one D forward per side
    z = plan.latents.noise(plan.batch_size, "cpu", 0, 0)
    x = real_images(batch[0], plan, 0, 0)
    fake = G0(z)
    real_out, fake_out = D0(x), D0(fake)
    g_grads = torch.autograd.grad(-fake_out.mean(), list(G0.parameters()), retain_graph=True)
    moved = [p for p in models.G.parameters()]
    assert all(g.abs().sum() > 0 for g in g_grads)
    opt = torch.optim.Adam(G0.parameters(), lr=setup.optim.lr, betas=(setup.optim.beta1, setup.optim.beta2))
    for p, g in zip(G0.parameters(), g_grads):
        p.grad = g
    opt.step()
    for mine, theirs in zip(moved, G0.parameters()):
        torch.testing.assert_close(mine, theirs, rtol=0, atol=1e-7)
    d_loss = fake_out.mean() - real_out.mean()  # the penalty's gradient is added on top; compare without it
    assert torch.isfinite(d_loss)


def test_resume_is_bitwise_with_the_authors_order_and_adam(tmp_path, monkeypatch):
    extra = ("optim.step_order=g_first", "optim.adam_eps=chainer", "optim.n_dis=2")
    alone = tmp_path / "alone"
    train(cfg_for(alone, *extra))
    run = tmp_path / "run"
    import signal

    from sngan.errors import TrainingInterrupted

    send_signal_at(monkeypatch, signal.SIGTERM, at_step=2)
    with pytest.raises(TrainingInterrupted):
        train(cfg_for(run, *extra))
    monkeypatch.undo()
    train(cfg_for(run, *extra))
    assert_same_training_state(final_state(run), final_state(alone))


# preset -> (step order, Adam eps): the official updater each preset's row was trained with
OFFICIAL_TRAINING = {
    "cifar10_resnet_sn": ("g_first", "chainer"),           # sngan_projection updater.py
    "stl10_resnet_sn": ("g_first", "chainer"),
    "imagenet128_projection_sn": ("g_first", "chainer"),
    "cifar10_cnn_sn": ("g_first", "chainer"),              # chainer-gan-lib stdgan/updater.py
    "cifar10_cnn_sn_hinge": ("g_first", "chainer"),
    "cifar10_cnn_wn": ("g_first", "chainer"),
    "cifar10_cnn_ln": ("g_first", "chainer"),
    "cifar10_cnn_ortho": ("g_first", "chainer"),
    "cifar10_cnn_wc": ("g_first", "chainer"),
    "cifar10_cnn_gp": ("g_first_shared", "chainer"),       # chainer-gan-lib wgan_gp/updater.py
}


# presets of this project's own grids, not rows of the paper: they train as their dataset's recipe
# (tests/commands/test_experiments.py checks that)
OWN_GRIDS = {"fashion_mnist_comparison"}


@pytest.mark.parametrize("preset", sorted(OFFICIAL_TRAINING))
def test_every_preset_trains_as_its_official_updater(preset):
    import os
    from importlib.resources import files

    folder = str(files("sngan.conf").joinpath("experiment"))
    presets = {name[:-5] for name in os.listdir(folder) if name.endswith(".yaml")}
    assert presets == set(OFFICIAL_TRAINING) | OWN_GRIDS  # a new preset says which it is
    optim = compose_train([f"experiment={preset}", "dataset.root=/unused"]).optim
    assert (optim.step_order, optim.adam_eps, optim.d_forward) == (*OFFICIAL_TRAINING[preset], "separate")


def test_plain_runs_keep_pytorchs_order_and_adam():
    optim = compose_train([]).optim
    assert (optim.step_order, optim.adam_eps) == ("d_first", "torch")
