"""Spectral normalization: sigma of normalized weights, agreement with torch, folding, fp32."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from sngan.gan.archs.dcgan import DCGANDiscriminator
from sngan.gan.norms import build_norm, fold_parametrizations, sigma_estimates, weighted_layers
from sngan.gan.norms.spectral import SpectralNorm, exact_sigma, spectral_norm


def sn_cfg(iters=1):
    from omegaconf import OmegaConf
    return OmegaConf.create({"name": "sn", "power_iters": iters, "eps": 1e-12, "warmup_iters": 15})


def test_normalized_weights_have_unit_sigma_once_power_iteration_converges():
    torch.manual_seed(0)
    D = build_norm(sn_cfg()).apply(DCGANDiscriminator(16, 3, d_ch=8))
    layers = weighted_layers(D)
    assert len(layers) == 8
    for name, layer in layers.items():
        for _ in range(100):  # each access in training mode runs one power iteration, as a forward does
            layer.weight
        sigma = exact_sigma(layer.weight)  # the weight the layer computes with
        assert abs(sigma - 1) < 0.01, (name, sigma)
        raw = layer.parametrizations.weight.original
        assert abs(sigma_estimates(D)[name] - exact_sigma(raw)) / exact_sigma(raw) < 0.01


def test_one_step_is_the_papers_algorithm():
    """v = W^T u / |W^T u|, u = W v / |W v|, sigma = u^T W v, output W / sigma."""
    torch.manual_seed(1)
    layer = spectral_norm(nn.Conv2d(3, 5, 3))
    sn = layer.parametrizations.weight[0]
    W = layer.parametrizations.weight.original.detach().reshape(5, -1)
    for _ in range(3):
        u = sn._u.clone()
        v = torch.nn.functional.normalize(W.t() @ u, dim=0)
        u = torch.nn.functional.normalize(W @ v, dim=0)
        out = layer.weight
        torch.testing.assert_close(out.reshape(5, -1), W / (u @ W @ v))
        torch.testing.assert_close(sn._u, u)


def test_agrees_with_torch_spectral_norm_once_converged():
    for make in (lambda: nn.Linear(20, 7), lambda: nn.Conv2d(3, 5, 3)):
        torch.manual_seed(1)
        ours = spectral_norm(make(), power_iters=30)
        torch.manual_seed(1)
        theirs = nn.utils.parametrizations.spectral_norm(make(), n_power_iterations=30)
        x = torch.randn(2, 20) if isinstance(ours, nn.Linear) else torch.randn(2, 3, 8, 8)
        torch.testing.assert_close(ours(x), theirs(x), rtol=1e-4, atol=1e-5)


def test_eval_mode_freezes_u_and_training_updates_it():
    layer = spectral_norm(nn.Linear(6, 4))
    sn = layer.parametrizations.weight[0]
    layer.eval()
    u = sn._u.clone()
    layer(torch.randn(1, 6))
    assert torch.equal(u, sn._u)
    layer.train()
    with torch.no_grad():
        layer.parametrizations.weight.original.mul_(torch.randn(4, 6))
    layer(torch.randn(1, 6))
    assert not torch.equal(u, sn._u)


def test_gradient_flows_through_w_over_sigma():
    layer = spectral_norm(nn.Linear(5, 3))
    layer(torch.randn(2, 5)).sum().backward()
    assert layer.parametrizations.weight.original.grad is not None
    assert layer.parametrizations.weight.original.grad.abs().sum() > 0


def test_power_iterations_configurable():
    with pytest.raises(ValueError):
        SpectralNorm(torch.randn(3, 3), power_iters=0)
    layer = spectral_norm(nn.Linear(30, 30), power_iters=5)
    assert layer.parametrizations.weight[0].power_iters == 5


def test_folding_gives_plain_layers_with_identical_outputs():
    torch.manual_seed(0)
    D = build_norm(sn_cfg()).apply(DCGANDiscriminator(16, 1, d_ch=8)).eval()
    x = torch.randn(3, 1, 16, 16)
    before = D(x)
    fold_parametrizations(D)
    assert not any(hasattr(m, "parametrizations") for m in D.modules())
    torch.testing.assert_close(D(x), before)


def test_transposed_conv_is_normalized_over_its_output_channels_like_torch():
    torch.manual_seed(2)
    ours = spectral_norm(nn.ConvTranspose2d(4, 6, 4, 2, 1), power_iters=30)
    torch.manual_seed(2)
    theirs = nn.utils.parametrizations.spectral_norm(nn.ConvTranspose2d(4, 6, 4, 2, 1), n_power_iterations=30)
    x = torch.randn(2, 4, 5, 5)
    torch.testing.assert_close(ours(x), theirs(x), rtol=1e-4, atol=1e-5)
    assert ours.parametrizations.weight[0]._u.shape == (6,)  # one entry per output channel
