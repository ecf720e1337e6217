"""The baselines as the SN paper ran them (issue: paper recipes): no gains in WN/LN/BN, orthonormal init,
weight-only clipping, the official init per architecture."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from conftest import compose_train, discriminator_for, generator_for
from sngan.gan.norms import effective_weight, weighted_layers
from sngan.gan.norms.feature import BiasOnly
from sngan.build import build_models, model_recipe


def _models(*overrides):
    cfg = compose_train(["device=cpu", *overrides])
    recipe = model_recipe(cfg)
    return build_models(recipe, "cpu"), recipe.norm


def test_wn_has_no_gain_and_unit_rows():
    (_, D), _ = _models("norm=wn")
    names = [n for n, _ in D.named_parameters()]
    assert not any("original0" in n or n.endswith(".g") for n in names), names  # torch's weight_norm gain g
    for layer in weighted_layers(D).values():
        w = effective_weight(layer).detach()
        rows = w.reshape(w.shape[0], -1).norm(dim=1)
        assert torch.allclose(rows, torch.ones_like(rows), atol=1e-5)
        assert layer.bias is not None  # biases stay
    (_, D_gain), _ = _models("norm=wn", "norm.gain=true")
    assert any(n.endswith("original0") for n, _ in D_gain.named_parameters())  # g of torch's weight_norm


@pytest.mark.parametrize("norm,inner", [("ln", nn.GroupNorm), ("bn", nn.BatchNorm2d)])
@pytest.mark.parametrize("arch", ["dcgan", "resnet"])
def test_ln_and_bn_have_no_gain_but_keep_the_bias(norm, inner, arch):
    (_, D), _ = _models(f"norm={norm}", f"arch={arch}", "arch.g_ch=16", "arch.d_ch=8")
    layers = [m for m in D.modules() if isinstance(m, BiasOnly)]
    assert layers, "no feature norm layer in D"
    for layer in layers:
        assert isinstance(layer.norm, inner) and not layer.norm.affine
        assert getattr(layer.norm, "weight", None) is None and not hasattr(layer, "weight")
        assert layer.bias.requires_grad
    x = torch.randn(4, 1, 16, 16)
    assert D(x).shape == (4,)
    (_, D_gain), _ = _models(f"norm={norm}", f"arch={arch}", "arch.g_ch=16", "arch.d_ch=8", "norm.gain=true")
    assert any(isinstance(m, inner) and m.affine for m in D_gain.modules())


def test_ortho_initializes_every_d_weight_orthonormal():
    (_, D), _ = _models("norm=ortho")
    for name, layer in weighted_layers(D).items():
        w = layer.weight.detach().reshape(layer.weight.shape[0], -1).double()
        gram = w @ w.t() if w.shape[0] <= w.shape[1] else w.t() @ w  # the smaller side
        assert torch.allclose(gram, torch.eye(len(gram), dtype=gram.dtype), atol=1e-5), name
    (_, D_plain), _ = _models("norm=ortho", "norm.orthogonal_init=false", "arch.init=paper")
    w = next(iter(weighted_layers(D_plain).values())).weight.detach().reshape(-1)
    assert abs(w.std().item() - 0.02) < 0.005  # the arch's init, not orthonormal


def test_wc_clips_weights_and_leaves_biases_alone_by_default():
    (_, D), norm = _models("norm=wc")
    with torch.no_grad():
        for p in D.parameters():
            p.fill_(0.5)
    norm.after_d_step(D)
    for name, p in D.named_parameters():
        expected = 0.01 if name.endswith("weight") else 0.5
        assert torch.all(p == expected), name
    (_, D_all), norm_all = _models("norm=wc", "norm.clip_biases=true")
    with torch.no_grad():
        for p in D_all.parameters():
            p.fill_(0.5)
    norm_all.after_d_step(D_all)
    assert all(torch.all(p == 0.01) for p in D_all.parameters())


def test_gp_weight_is_ten():
    assert compose_train(["norm=gp"]).norm.gp_weight == 10.0


def test_cnn_init_std_is_002_and_biases_zero():
    cfg = compose_train(["dataset=cifar10"])
    for net in (generator_for(cfg), discriminator_for(cfg)):
        for layer in weighted_layers(net).values():
            if layer.weight.numel() >= 1000:
                assert abs(layer.weight.std().item() - 0.02) < 0.002
            assert layer.bias is None or torch.all(layer.bias == 0)
    torch_init = discriminator_for(compose_train(["dataset=cifar10", "arch.init=torch"]))
    first = next(iter(weighted_layers(torch_init).values())).weight
    assert abs(first.std().item() - 0.02) > 0.01  # PyTorch's kaiming-uniform default differs


def test_resnet_init_is_glorot_with_sqrt2_in_residual_convs():
    cfg = compose_train(["dataset=cifar10", "arch=resnet"])
    D = discriminator_for(cfg)

    def glorot_std(w, gain):
        fan_in, fan_out = w.shape[1] * w[0, 0].numel(), w.shape[0] * w[0, 0].numel()
        return gain * math.sqrt(2.0 / (fan_in + fan_out))

    conv = D.blocks[1].conv1.weight
    assert abs(conv.std().item() / glorot_std(conv, math.sqrt(2)) - 1) < 0.05
    shortcut = D.blocks[1].shortcut.weight
    assert abs(shortcut.std().item() / glorot_std(shortcut, 1.0) - 1) < 0.1
    fc = D.fc.weight
    bound = math.sqrt(6.0 / (fc.shape[0] + fc.shape[1]))
    assert fc.abs().max().item() <= bound + 1e-6


def test_mlp_has_no_paper_init():
    from sngan.errors import ConfigError

    cfg = compose_train(["dataset=ring8", "arch=mlp", "arch.init=paper"])
    with pytest.raises(ConfigError, match="arch.init=torch"):
        generator_for(cfg)
