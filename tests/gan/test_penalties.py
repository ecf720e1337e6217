"""Gradient penalty (WGAN-GP, GAN-GP), orthonormal regularization and the Wasserstein loss."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from sngan.data import streams
from sngan.errors import ConfigError
from sngan.gan.losses import build_loss
from sngan.gan.norms import build_norm
from sngan.gan.norms.gp import gradient_penalty
from sngan.gan.norms.ortho import orthonormal_penalty
from sngan.run.logger import read_scalars
from sngan.train import train


def d_penalties(cfg, D, real, fake, y, *keys):
    """The terms cfg's norm adds to D's loss, drawn from the loop's GP stream for these keys (one process)."""
    return build_norm(cfg.norm).penalty(D, real, fake, y, batch_size=len(real), shard=lambda t: t,
                                        rng=lambda: streams.generator(int(cfg.seed), streams.GP_MIX, *keys))


class LinearCritic(nn.Module):
    """f(x) = w . x: its gradient is w everywhere, so the penalty is (||w|| - 1)^2 exactly."""

    def __init__(self, w):
        super().__init__()
        self.w = nn.Parameter(w.clone())

    def forward(self, x, y=None):
        return (x.flatten(1) * self.w).sum(1)


def test_gradient_penalty_of_a_linear_critic_is_known():
    w = torch.randn(12, dtype=torch.float64)
    critic = LinearCritic(w)
    real, fake = torch.randn(5, 3, 2, 2, dtype=torch.float64), torch.randn(5, 3, 2, 2, dtype=torch.float64)
    gp = gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(0))
    norm = w.norm()
    assert gp.item() == pytest.approx(((norm - 1) ** 2).item(), rel=1e-10)
    # differentiable in the critic: d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w||
    (grad,) = torch.autograd.grad(gp, critic.w)
    assert torch.allclose(grad, 2 * (norm - 1) * w / norm)


def test_gradient_penalty_uses_gradients_at_interpolates():
    # f(x) = 0.5 ||x||^2 has gradient x: the penalty must equal the mean of (||x_hat|| - 1)^2
    class Quadratic(nn.Module):
        def forward(self, x, y=None):
            return 0.5 * x.flatten(1).pow(2).sum(1)

    real, fake = torch.randn(6, 4, dtype=torch.float64), torch.randn(6, 4, dtype=torch.float64)
    gp = gradient_penalty(Quadratic(), real, fake, generator=torch.Generator().manual_seed(3))
    e = torch.rand(6, generator=torch.Generator().manual_seed(3)).double().view(-1, 1)
    x_hat = e * real + (1 - e) * fake
    assert gp.item() == pytest.approx((x_hat.norm(dim=1) - 1).pow(2).mean().item(), rel=1e-10)


@pytest.mark.parametrize("shape", [(3, 7), (7, 3), (4, 2, 3, 3), (20, 2, 3, 3)])
def test_orthonormal_penalty_matches_the_definition(shape):
    layer = nn.Linear(1, 1) if len(shape) == 2 else nn.Conv2d(1, 1, 3)
    layer.weight = nn.Parameter(torch.randn(*shape, dtype=torch.float64))
    w = layer.weight.reshape(shape[0], -1)
    expected = (w.t() @ w - torch.eye(w.shape[1], dtype=torch.float64)).pow(2).sum()
    value = orthonormal_penalty(layer)
    assert value.item() == pytest.approx(expected.item(), rel=1e-10)
    g1 = torch.autograd.grad(value, layer.weight)[0]
    g2 = torch.autograd.grad(expected, layer.weight)[0]
    assert torch.allclose(g1, g2)


def test_orthonormal_penalty_is_zero_for_orthonormal_rows():
    layer = nn.Linear(5, 5)
    with torch.no_grad():
        layer.weight.copy_(torch.linalg.qr(torch.randn(5, 5))[0])
    assert orthonormal_penalty(layer).item() == pytest.approx(0, abs=1e-10)


def test_wasserstein_loss():
    real, fake = torch.tensor([1.0, 3.0]), torch.tensor([-2.0, 0.0])
    assert build_loss("wgan").d_loss(real, fake).item() == pytest.approx(-1.0 - 2.0)
    assert build_loss("wgan").g_loss(fake).item() == pytest.approx(1.0)


def test_penalty_terms_follow_the_norm(small_cfg, tmp_path):
    critic = LinearCritic(torch.full((256,), 0.5))
    real, fake = torch.randn(4, 1, 16, 16), torch.randn(4, 1, 16, 16)
    cfg = small_cfg("norm=gp", "norm.gp_weight=3")
    terms = d_penalties(cfg, critic, real, fake, None, 0, 0)
    assert set(terms) == {"loss/gp"}
    assert terms["loss/gp"].item() == pytest.approx(3 * (8 - 1) ** 2, rel=1e-5)  # ||w|| = 0.5 * 16
    assert d_penalties(small_cfg("norm=sn"), critic, real, fake, None, 0, 0) == {}
    # torch.compile cannot run GP's double backward: train refuses at start-up (the norm entry says so),
    # where the old d_penalties refused at the first D step
    assert build_norm(small_cfg("norm=gp").norm).supports_compile is False
    with pytest.raises(ConfigError, match="speed.compile=false"):
        compiled = small_cfg("norm=gp")
        compiled.speed.compile = True
        train(compiled)
    assert not (tmp_path / "run").exists()  # before any work
    with pytest.raises(ConfigError, match="gp_weight"):
        build_norm(small_cfg("norm=gp", "norm.gp_weight=-1").norm)
    with pytest.raises(ConfigError, match="ortho_weight"):
        build_norm(small_cfg("norm=ortho", "norm.ortho_weight=-1").norm)


@pytest.mark.parametrize("loss", ["wgan", "bce"])
def test_gp_trains_and_logs(small_cfg, loss):
    cfg = small_cfg("train.steps=2", "norm=gp", f"loss={loss}", "optim.n_dis=2")
    last = train(cfg)
    rows = [r for r in read_scalars(f"{cfg.run_dir}/scalars.jsonl") if r["tag"] == "loss/gp"]
    assert rows and all(r["value"] >= 0 for r in rows)
    assert last["loss/gp"] == rows[-1]["value"]
