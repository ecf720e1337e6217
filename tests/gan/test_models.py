"""The paper's architectures: layer structure and output shapes per resolution, built from configs."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from conftest import build_models_for, compose_train


def convs(net):
    return [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]


def models(*overrides):
    return build_models_for(compose_train(["norm=none", *overrides]))


def test_dcgan_matches_the_papers_standard_cnn_at_32px():
    G, D = models("dataset=cifar10")
    widths = [(c.out_channels, c.kernel_size[0], c.stride[0]) for c in convs(D)]
    assert widths == [(64, 3, 1), (64, 4, 2), (128, 3, 1), (128, 4, 2), (256, 3, 1), (256, 4, 2), (512, 3, 1)]
    assert D.fc.in_features == 4 * 4 * 512
    assert G.dense.out_features == 4 * 4 * 512
    assert [c.out_channels for c in convs(G)] == [256, 128, 64, 3]
    assert all(m.negative_slope == 0.1 for m in D.modules() if isinstance(m, nn.LeakyReLU))


def test_dcgan_starts_at_6x6_for_stl10():
    G, _ = models("dataset=stl10")
    assert G.bottom == 6
    assert G(torch.randn(2, 128)).shape == (2, 3, 48, 48)


@pytest.mark.parametrize("variant", ["paper", "chainer_gan_lib"])
@pytest.mark.parametrize("res", [16, 32, 48, 64, 128])
def test_dcgan_shapes(res, variant):
    G, D = models("dataset=cifar10", f"dataset.resolution={res}", "arch.g_ch=32", "arch.d_ch=8",
                  f"arch.variant={variant}")
    x = G(torch.randn(3, 128))
    assert x.shape == (3, 3, res, res) and x.abs().max() <= 1
    assert D(x).shape == (3,)


def test_resnet_matches_the_papers_cifar_resnet():
    G, D = models("dataset=cifar10", "arch=resnet")
    assert G.dense.out_features == 4 * 4 * 256 and len(G.blocks) == 3
    assert [b.conv2.out_channels for b in G.blocks] == [256, 256, 256]
    assert [(b.conv2.out_channels, b.down) for b in D.blocks] == [(128, True), (128, True), (128, False), (128, False)]
    assert D.fc.in_features == 128


@pytest.mark.parametrize("res, blocks", [(32, 3), (48, 3), (64, 4), (128, 5)])
def test_resnet_shapes(res, blocks):
    G, D = models("dataset=cifar10", "arch=resnet", f"dataset.resolution={res}", "arch.g_ch=32", "arch.d_ch=8")
    assert len(G.blocks) == blocks
    x = G(torch.randn(2, 128))
    assert x.shape == (2, 3, res, res)
    assert D(x).shape == (2,)


def test_conditional_resnet_uses_labels():
    G, D = models("dataset=cifar10", "arch=resnet", "arch.cond=true", "arch.g_ch=16", "arch.d_ch=8", "z_dim=16")
    z = torch.randn(2, 16)
    G.eval()
    with torch.no_grad():
        for bn in [m for m in G.modules() if isinstance(m, nn.Embedding)]:
            bn.weight.normal_()
    a, b = G(z, torch.tensor([0, 0])), G(z, torch.tensor([1, 1]))
    assert not torch.allclose(a, b)
    with torch.no_grad():
        D.embed.weight.normal_()
    assert not torch.allclose(D(a, torch.tensor([0, 0])), D(a, torch.tensor([1, 1])))
