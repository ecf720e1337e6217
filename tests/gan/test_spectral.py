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


# ---- precision: SN in the weight's dtype; its gradient checked in float64 ----------------------------------------

def _converged(model: nn.Module) -> dict:
    """Run each SN's power iteration to convergence and return its u, v buffers: from there one more iteration
    leaves them in place, so W / sigma(W) is the exact function its gradient (u, v constants) belongs to."""
    vectors = {}
    for name, module in model.named_modules():
        sn = next((p for p in getattr(getattr(module, "parametrizations", None), "weight", [])
                   if isinstance(p, SpectralNorm)), None)
        if sn is not None:
            sn.iterate(module.parametrizations.weight.original, 2000)
            vectors[name] = [t.clone() for pair in sn.vectors() for t in pair]
    return vectors


def _reset(model: nn.Module, vectors: dict) -> None:
    with torch.no_grad():
        for name, saved in vectors.items():
            sn = model.get_submodule(name).parametrizations.weight[0]
            for buf, value in zip([t for pair in sn.vectors() for t in pair], saved):
                buf.copy_(value)


@pytest.mark.parametrize("grouped", [False, True])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_sn_gradient_passes_gradcheck_in_float64(grouped, bidirectional):
    """The training paths (per layer, and all layers at once) give torch.autograd.gradcheck's numerical gradient."""
    from torch.func import functional_call

    from sngan.gan.norms.grouped import group_spectral_norms

    torch.manual_seed(0)
    model = nn.Sequential(spectral_norm(nn.Conv2d(2, 3, 3), bidirectional=bidirectional),
                          spectral_norm(nn.ConvTranspose2d(3, 2, 4, 2, 1), bidirectional=bidirectional),
                          nn.Flatten(), spectral_norm(nn.Linear(2 * 8 * 8, 2))).double()
    if grouped:
        group_spectral_norms(model)
    vectors = _converged(model)
    names = [n for n, _ in model.named_parameters() if n.endswith("original")]
    x = torch.randn(2, 2, 6, 6, dtype=torch.float64)

    def f(*weights):
        _reset(model, vectors)
        return functional_call(model, dict(zip(names, weights)), (x,))

    weights = tuple(dict(model.named_parameters())[n].detach().clone().requires_grad_(True) for n in names)
    assert torch.autograd.gradcheck(f, weights, eps=1e-6, atol=1e-6, rtol=1e-5)


def test_sn_runs_in_float64_in_a_float64_model():
    torch.manual_seed(0)
    D = build_norm(sn_cfg()).apply(DCGANDiscriminator(16, 1, d_ch=8)).double()
    sns = [m.parametrizations.weight[0] for m in weighted_layers(D).values()]
    assert all(sn._u.dtype == sn._v.dtype == torch.float64 for sn in sns)  # u, v follow .double()
    out = D(torch.randn(2, 1, 16, 16, dtype=torch.float64))
    assert out.dtype == torch.float64
    layer = weighted_layers(D)["main.0"]
    for _ in range(2000):
        layer.weight
    assert abs(exact_sigma(layer.weight) - 1) < 1e-12  # float64 all the way: no float32 rounding in sigma


def test_sn_stays_fp32_under_bf16_autocast_and_for_a_half_weight():
    layer = spectral_norm(nn.Linear(8, 4))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        w = layer.weight
    assert w.dtype == torch.float32 and layer.parametrizations.weight[0]._u.dtype == torch.float32
    half = SpectralNorm(torch.randn(4, 8).half())
    assert half._u.dtype == torch.float32  # the power iteration never runs in half precision
    assert half(torch.randn(4, 8).half()).dtype == torch.float16
