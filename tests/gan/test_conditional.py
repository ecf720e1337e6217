"""Class-conditional training: conditional BN in G, projection D, per-class sample grids."""
from __future__ import annotations

import os

import pytest
import torch

from sngan.errors import ConfigError
from conftest import discriminator_for, generator_for, shape_of

from sngan.gan.generate import class_grids
from sngan.train import train

TINY_RESNET = ["arch=resnet", "arch.cond=true", "arch.g_ch=16", "arch.d_ch=8", "loss=hinge"]


def test_conditional_models_use_the_label(small_cfg):
    cfg = small_cfg(*TINY_RESNET)
    assert shape_of(cfg).num_classes == 10
    torch.manual_seed(0)
    G = generator_for(cfg).eval()
    D = discriminator_for(cfg)
    with torch.no_grad():
        G.blocks[0].bn1.gain.weight.normal_()  # class gains start at 1: make the classes differ
        D.embed.weight.normal_()
    z, x = torch.randn(4, cfg.z_dim), torch.randn(4, 1, 16, 16)
    y0, y1 = torch.zeros(4, dtype=torch.long), torch.ones(4, dtype=torch.long)
    assert not torch.allclose(G(z, y0), G(z, y1))
    assert not torch.allclose(D(x, y0), D(x, y1))
    grids = class_grids(G, z, [0, 1])
    assert set(grids) == {0, 1} and not torch.equal(grids[0], grids[1])


def test_unconditional_by_default_and_cond_needs_classes(small_cfg):
    assert shape_of(small_cfg("arch=resnet")).num_classes == 0
    with pytest.raises(ConfigError, match="arch.cond"):
        shape_of(small_cfg(*TINY_RESNET, "dataset.num_classes=0"))


def test_conditional_resnet_trains_and_writes_per_class_grids(small_cfg):
    cfg = small_cfg(*TINY_RESNET, "train.steps=2", "train.class_grids=3")
    last = train(cfg)
    assert torch.isfinite(torch.tensor(last["loss/D"]))
    samples = os.path.join(cfg.run_dir, "samples")
    folders = sorted(f for f in os.listdir(samples) if f.startswith("class_"))
    assert folders == ["class_0000", "class_0001", "class_0002"]
    for folder in folders:
        assert os.listdir(os.path.join(samples, folder)) == ["step_000000002.png"]
    assert os.path.exists(os.path.join(samples, "step_000000002.png"))
