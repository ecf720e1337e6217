"""norm=bssn, ln, bn, ortho and norm_g=sn: definitions, composition and a few training steps each."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from conftest import generator_for, discriminator_for
from sngan.errors import ConfigError
from sngan.gan.norms import build_norm, effective_weight, sigma_estimates, weighted_layers
from sngan.gan.norms.spectral import SpectralNorm, find_spectral_norm
from sngan.run.logger import read_scalars
from sngan.train import train
from sngan.train.step import discriminate

FEW = ["train.steps=2"]


def discriminator(cfg):
    """D of cfg's arch with the feature layer of cfg's norm (ln, bn), not yet reparametrized."""
    return discriminator_for(cfg)


def generator(cfg):
    return generator_for(cfg)


def tags_of(cfg):
    return {r["tag"] for r in read_scalars(f"{cfg.run_dir}/scalars.jsonl")}


def test_bssn_sigma_is_the_mean_of_both_reshapes_times_scale():
    torch.manual_seed(0)
    w = torch.randn(6, 4, 3, 3, dtype=torch.float64)
    sn = SpectralNorm(w, scale=1.7, bidirectional=True)
    sn.iterate(w, 300)
    out_view = torch.linalg.svdvals(w.reshape(6, 36))[0]                       # (out, in*k*k)
    in_view = torch.linalg.svdvals(w.permute(1, 0, 2, 3).reshape(4, 54))[0]    # (in, out*k*k)
    assert out_view != pytest.approx(in_view.item(), rel=1e-2)  # the two reshapes really differ here
    assert sn.sigma(w).item() == pytest.approx(((out_view + in_view) / 2).item(), rel=1e-6)
    normalized = sn(w)
    assert torch.allclose(normalized, 1.7 * w / ((out_view + in_view) / 2), rtol=1e-5)


def test_bssn_config_registers_bidirectional_scaled_sn(small_cfg):
    cfg = small_cfg("norm=bssn", "norm.scale=1.5")
    D = build_norm(cfg.norm).apply(discriminator(cfg))
    sns = [find_spectral_norm(m) for m in weighted_layers(D).values()]
    assert all(s is not None and s.bidirectional and s.scale == 1.5 for s in sns)
    assert set(sigma_estimates(D)) == set(weighted_layers(D))


def test_reading_the_weight_for_a_log_does_not_advance_the_power_iteration(small_cfg):
    D = build_norm(small_cfg("norm=sn").norm).apply(discriminator(small_cfg("norm=sn")))
    layer = D.main[2]
    u = find_spectral_norm(layer)._u.clone()
    effective_weight(layer)
    assert torch.equal(find_spectral_norm(layer)._u, u)
    layer.weight  # a training-mode read does iterate
    assert not torch.equal(find_spectral_norm(layer)._u, u)


@pytest.mark.parametrize("norm,layer_type", [("ln", nn.GroupNorm), ("bn", nn.BatchNorm2d)])
@pytest.mark.parametrize("arch", ["dcgan", "resnet"])
def test_feature_norm_after_each_d_conv_but_the_first(small_cfg, norm, layer_type, arch):
    cfg = small_cfg(f"norm={norm}", f"arch={arch}", "arch.g_ch=16", "arch.d_ch=8")
    D = discriminator(cfg)
    residual_convs = [m for n, m in D.named_modules() if isinstance(m, nn.Conv2d) and "shortcut" not in n]
    norms = [m for m in D.modules() if isinstance(m, layer_type)]
    assert len(norms) == len(residual_convs) - 1
    assert D(torch.randn(3, 1, 16, 16)).shape == (3,)
    plain = discriminator(small_cfg("norm=sn", f"arch={arch}", "arch.g_ch=16", "arch.d_ch=8"))
    assert not any(isinstance(m, (nn.GroupNorm, nn.BatchNorm2d)) for m in plain.modules())


def test_bn_discriminator_sees_real_and_fake_batches_apart(small_cfg):
    D = discriminator(small_cfg("norm=bn"))
    real, fake = torch.randn(4, 1, 16, 16), torch.randn(4, 1, 16, 16) * 3 + 1
    r_sep, f_sep = discriminate(D, real, fake, separate=True)
    assert torch.allclose(r_sep, D(real)) and torch.allclose(f_sep, D(fake))
    r_mix, _ = discriminate(D, real, fake, separate=False)
    assert not torch.allclose(r_mix, r_sep, atol=1e-4)  # mixed statistics change the real logits


def test_norm_g_sn_normalizes_g_but_not_class_embeddings(small_cfg):
    cfg = small_cfg("norm_g=sn", "arch=resnet", "arch.cond=true", "arch.g_ch=16", "arch.d_ch=8")
    G = generator(cfg)
    for layer in weighted_layers(G).values():
        assert (find_spectral_norm(layer) is None) == isinstance(layer, nn.Embedding)
    with pytest.raises(ConfigError, match="norm_g"):
        generator(small_cfg("norm_g=bogus"))


def test_unknown_norm_names_the_choices(small_cfg):
    cfg = small_cfg()
    cfg.norm.name = "spectral"
    with pytest.raises(ConfigError, match="bssn.*gp.*ln.*bn.*ortho"):
        build_norm(cfg.norm)  # the registry refuses the name before D is built


@pytest.mark.parametrize("overrides,expect", [
    (["norm=bssn", "norm.scale=1.2"], "sigma/D/main.00"),
    (["norm=ln"], "loss/D"),
    (["norm=bn"], "loss/D"),
    (["norm=ortho"], "loss/ortho"),
    (["norm_g=sn", "norm=sn"], "sigma/D/main.00"),
])
def test_each_option_trains_and_logs(small_cfg, overrides, expect):
    cfg = small_cfg(*FEW, *overrides)
    last = train(cfg)
    tags = tags_of(cfg)
    # layer names in tags have their indices zero-padded (main.0 -> main.00), so text order is network order
    assert expect in tags and "lipschitz/D/main.00" in tags
    assert all(torch.isfinite(torch.tensor(v)) for v in last.values())
