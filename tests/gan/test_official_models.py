"""The authors' models: every preset builds the official model's layers (parameter counts, Chainer's batch-norm
eps, per-unit bn0, the official D blocks and biases), and arch.variant=chainer_gan_lib is chainer-gan-lib's pair.

Expected parameter counts were computed from the official definitions (instantiated with Chainer 7.8.1 and checked
by hand): pfnet-research/chainer-gan-lib @ cf9efba common/net.py (DCGANGenerator lines 56-105,
SNDCGANDiscriminator lines 199-221) and pfnet-research/sngan_projection @ e84b1a5 (gen_models/resnet_32.py,
resnet.py, resblocks.py; dis_models/snresnet_32.py, snresnet.py, resblocks.py). SN's u vectors are buffers,
not parameters, in both.
"""
from __future__ import annotations

import pytest
import torch
from torch import nn

from conftest import build_models_for, compose_train
from sngan.build import model_recipe
from sngan.gan.generate import Latents

# preset -> (G parameters, D parameters, where the numbers come from)
OFFICIAL_COUNTS = {
    # chainer-gan-lib DCGANGenerator(): l0 1,056,768 + bn0 (per unit, 2 x 8192) + dc1..dc4 = 3,828,739 (the paper's
    # Table 3 G is the same network). D: Table 3 as printed, 32 px, biased convs: 2,935,873.
    "cifar10_cnn_sn": (3_828_739, 2_935_873, "CGL DCGANGenerator / paper Table 3 D"),
    "cifar10_cnn_sn_hinge": (3_828_739, 2_935_873, "CGL DCGANGenerator / paper Table 3 D"),
    "cifar10_cnn_wc": (3_828_739, 2_935_873, "CGL DCGANGenerator / paper Table 3 D"),
    "cifar10_cnn_wn": (3_828_739, 2_935_873, "CGL DCGANGenerator / paper Table 3 D (WN without gain adds none)"),
    "cifar10_cnn_gp": (3_828_739, 2_935_873, "CGL DCGANGenerator / paper Table 3 D"),
    "cifar10_cnn_ortho": (3_828_739, 2_935_873, "CGL DCGANGenerator / paper Table 3 D"),
    # sngan_projection ResNetGenerator(ch=256) 32 px: 4,276,739; SNResNetProjectionDiscriminator(ch=128): 1,053,824
    # (its final SNLinear has nobias=True: snresnet_32.py line 17)
    "cifar10_resnet_sn": (4_276_739, 1_053_824, "sngan_projection resnet_32 / snresnet_32"),
    # 128 px, 1000 classes: ResNetGenerator(ch=64) 41,996,931; SNResNetProjectionDiscriminator(ch=64) 30,041,857
    "imagenet128_projection_sn": (41_996_931, 30_041_857, "sngan_projection resnet / snresnet"),
    # no official 48 px code: the paper's Table 5 widths with the official blocks (G 2,377,728 dense + blocks
    # 1,902,848 + 476,288 + 119,360 + bn 128 + conv 1,731; D 38,976 + 119,104 + 475,776 + 1,901,824 + 7,604,736 +
    # biased linear 1,025)
    "stl10_resnet_sn": (4_878_083, 10_141_441, "paper Table 5 with the official blocks"),
}


def counts(G, D) -> tuple[int, int]:
    return sum(p.numel() for p in G.parameters()), sum(p.numel() for p in D.parameters())


@pytest.mark.parametrize("preset", sorted(OFFICIAL_COUNTS))
def test_every_preset_has_the_official_parameter_counts(preset):
    G, D = build_models_for(compose_train([f"experiment={preset}", "dataset.root=/unused"]))
    g, d, source = OFFICIAL_COUNTS[preset]
    assert counts(G, D) == (g, d), source


def test_chainer_gan_lib_variant_is_dcgan_generator_and_sndcgan_discriminator():
    cfg = compose_train(["experiment=cifar10_cnn_sn", "arch.variant=chainer_gan_lib"])
    G, D = build_models_for(cfg)
    assert counts(G, D) == (3_828_739, 5_860_865)  # DCGANGenerator(), SNDCGANDiscriminator() (CGL common/net.py)
    convs = [(c.in_channels, c.out_channels, c.kernel_size[0], c.stride[0]) for c in D.modules() if isinstance(c, nn.Conv2d)]
    assert convs == [(3, 64, 3, 1), (64, 128, 4, 2), (128, 128, 3, 1), (128, 256, 4, 2), (256, 256, 3, 1),
                     (256, 512, 4, 2), (512, 512, 3, 1)]  # c0_0 ... c3_0, lines 204-210
    assert D.fc.in_features == 4 * 4 * 512 and D.fc.bias is not None  # l4, line 211
    assert {m.negative_slope for m in D.modules() if isinstance(m, nn.LeakyReLU)} == {0.2}  # F.leaky_relu's default
    assert isinstance(G.main[-2], nn.ConvTranspose2d) and G.main[-2].kernel_size == (3, 3)  # dc4 (line 74)
    # at 48 px (bottom_width=6): only the dense layers grow (CGL instantiated: G 5,170,179, D 5,871,105)
    G48, D48 = build_models_for(compose_train(["experiment=cifar10_cnn_sn", "arch.variant=chainer_gan_lib",
                                              "dataset.resolution=48"]))
    assert counts(G48, D48) == (5_170_179, 5_871_105)


def test_chainer_gan_lib_variant_draws_z_uniform_in_minus_one_one():
    shape = model_recipe(compose_train(["dataset=cifar10", "arch.variant=chainer_gan_lib"])).shape
    assert shape.latent == "uniform"
    z = Latents.of(shape, 0).noise(20000, "cpu", 0, 0)
    assert z.min() >= -1 and z.max() < 1 and abs(z.mean()) < 0.01 and abs(z.var() - 1 / 3) < 0.01  # U(-1, 1)
    assert model_recipe(compose_train(["dataset=cifar10"])).shape.latent == "normal"  # the paper: N(0, I)


def test_paper_variant_keeps_table3_and_slope_01():
    _, D = build_models_for(compose_train(["dataset=cifar10"]))
    assert {m.negative_slope for m in D.modules() if isinstance(m, nn.LeakyReLU)} == {0.1}


@pytest.mark.parametrize("overrides", [["experiment=cifar10_cnn_sn"], ["experiment=cifar10_resnet_sn"],
                                       ["experiment=imagenet128_projection_sn", "dataset.root=/unused"],
                                       ["experiment=stl10_resnet_sn"], ["dataset=digits"],
                                       ["experiment=cifar10_cnn_sn", "arch.variant=chainer_gan_lib"]])
def test_every_generator_batch_norm_uses_chainers_eps(overrides):
    G, _ = build_models_for(compose_train(overrides))
    norms = [m for m in G.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    assert norms and all(m.eps == 2e-5 and m.momentum == 0.1 for m in norms)  # Chainer: eps 2e-5, decay 0.9


def test_bn_baseline_in_d_uses_chainers_eps():
    _, D = build_models_for(compose_train(["experiment=cifar10_cnn_sn", "norm=bn"]))
    norms = [m for m in D.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(norms) == 6 and all(m.eps == 2e-5 for m in norms)


def test_first_batch_norm_of_the_cnn_generator_is_per_unit_before_the_reshape():
    G, _ = build_models_for(compose_train(["experiment=cifar10_cnn_sn"]))
    assert isinstance(G.bn0, nn.BatchNorm1d) and G.bn0.num_features == 4 * 4 * 512  # CGL bn0, line 76
    z = torch.randn(64, 128)
    seen = {}
    G.main[0].register_forward_pre_hook(lambda m, args: seen.setdefault("h", args[0]))
    G.train()
    with torch.no_grad():
        G(z)
        units = G.bn0(G.dense(z))  # training mode: this batch's statistics
    # each of the 8192 dense outputs normalized on its own (per-channel BN would only zero each channel's mean)
    assert torch.allclose(units.mean(0), torch.zeros(8192), atol=1e-5)
    assert torch.allclose(units.var(0, unbiased=False), torch.ones(8192), atol=1e-2)
    # ... then ReLU, then the reshape to (512, 4, 4) that the first deconvolution reads
    assert torch.equal(seen["h"], torch.relu(units).view(64, 512, 4, 4))


def test_resnet_d_final_bias_only_above_32px():
    _, D32 = build_models_for(compose_train(["experiment=cifar10_resnet_sn"]))
    assert D32.fc.bias is None  # snresnet_32.py line 17: SNLinear(ch, 1, nobias=True)
    for overrides in (["experiment=stl10_resnet_sn"], ["experiment=imagenet128_projection_sn", "dataset.root=/x"],
                      ["experiment=cifar10_resnet_sn", "dataset.resolution=64"]):
        _, D = build_models_for(compose_train(overrides))
        assert D.fc.bias is not None  # snresnet_64.py line 19, snresnet.py line 20


def test_resnet_d_blocks_keep_the_input_width_in_their_first_conv_at_128px():
    _, D = build_models_for(compose_train(["experiment=imagenet128_projection_sn", "dataset.root=/x"]))
    widths = [(b.conv1.in_channels, b.conv1.out_channels, b.conv2.out_channels, b.shortcut is not None)
              for b in D.blocks]
    # dis_models/snresnet.py lines 14-19 with resblocks.py Block (hidden_channels = in_channels, line 21) and
    # OptimizedBlock (c1 in->out): block6 keeps 1024 and has no shortcut conv
    assert widths == [(3, 64, 64, True), (64, 64, 128, True), (128, 128, 256, True), (256, 256, 512, True),
                      (512, 512, 1024, True), (1024, 1024, 1024, False)]
    assert D.embed.weight.shape == (1000, 1024)


def test_resnet_64px_is_the_official_64px_model():
    G, D = build_models_for(compose_train(["experiment=cifar10_resnet_sn", "dataset.resolution=64"]))
    # gen_models/resnet_64.py (ch=64): 1024 -> 512 -> 256 -> 128 -> 64; dis_models/snresnet_64.py: 5 down blocks
    assert [b.conv2.out_channels for b in G.blocks] == [512, 256, 128, 64]
    assert [(b.conv2.out_channels, b.down) for b in D.blocks] == [(64, True), (128, True), (256, True), (512, True),
                                                                 (1024, True)]
    assert counts(G, D) == (12_220_675, 10_141_441)  # both unconditional (n_classes=0), as counted with Chainer
