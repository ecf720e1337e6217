"""2-D mixture benchmark data: the mixtures and their resumable batches; arch=mlp goes with them alone.
(The mode metrics and 2-D training runs: metrics/test_modes.py.)"""
from __future__ import annotations

import pytest
import torch

from conftest import compose_train, generator_for
from sngan.data import points
from sngan.errors import ConfigError


def test_mixtures_are_the_standard_ones():
    ring = points.ring8()
    assert ring.num_modes == 8 and ring.std == 0.02
    assert torch.allclose(ring.centers.norm(dim=1), torch.full((8,), 2.0), atol=1e-6)
    assert torch.allclose(ring.centers[2], torch.tensor([0.0, 2.0]), atol=1e-6)
    grid = points.grid25()
    assert grid.num_modes == 25 and grid.std == 0.05
    assert sorted(set(grid.centers[:, 0].tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0]
    assert len({tuple(c) for c in grid.centers.tolist()}) == 25


def test_point_stream_is_resumable():
    cfg = compose_train(["dataset=ring8", "arch=mlp"]).dataset
    a = points.PointStream(cfg.name, 32, 7, torch.device("cpu"))
    first = [a.next()[0] for _ in range(5)]
    b = points.PointStream(cfg.name, 32, 7, torch.device("cpu"), start=3)
    assert torch.equal(b.next()[0], first[3]) and b.position == 4
    assert not torch.equal(first[0], first[1])
    x, y = first[0], None
    assert x.shape == (32, 2) and x.dtype == torch.float32


def test_arch_and_dataset_must_match():
    for overrides in (["dataset=ring8", "arch=dcgan"], ["dataset=digits", "arch=mlp"]):
        cfg = compose_train(overrides)
        with pytest.raises(ConfigError, match="arch=mlp"):
            generator_for(cfg)
    with pytest.raises(ConfigError, match="choose one of"):
        points.mixture("ring9")
