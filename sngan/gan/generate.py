"""Drawing from a generator: the latents of every step and sample grids.

Used by the training loop and by `sngan sample` / `sngan eval`, which never import the loop.
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import torch
from torch import nn
from torchvision.utils import make_grid

from ..data import streams
from ..data.streams import to_device


def draw_latents(n: int, z_dim: int, law: str, generator: torch.Generator) -> torch.Tensor:
    """n latent vectors of G's input law from `generator` (on the CPU)."""
    if law == "uniform":
        return torch.rand(n, z_dim, generator=generator).mul_(2).sub_(1)
    return torch.randn(n, z_dim, generator=generator)


@dataclass(frozen=True)
class Latents:
    """G's inputs as pure functions of (seed, keys): resumed runs draw exactly what they would have."""

    seed: int
    z_dim: int
    num_classes: int  # 0: unconditional, no labels
    law: str          # "normal": z ~ N(0, I); "uniform": z ~ U(-1, 1) (chainer-gan-lib's DCGANGenerator)

    @classmethod
    def of(cls, shape, seed: int) -> "Latents":
        """The latents of a model of this ModelShape."""
        return cls(int(seed), shape.z_dim, shape.num_classes, shape.latent)

    def noise(self, n: int, device, *keys: int) -> torch.Tensor:
        return to_device(draw_latents(n, self.z_dim, self.law, streams.generator(self.seed, streams.NOISE, *keys)), device)

    def labels(self, n: int, device, *keys: int) -> torch.Tensor | None:
        if not self.num_classes:
            return None
        return to_device(torch.randint(self.num_classes, (n,),
                                       generator=streams.generator(self.seed, streams.LABELS, *keys)), device)

    def grid_labels(self, n: int, device) -> torch.Tensor | None:
        """Labels of a sample grid: classes in turn, so each row shows several."""
        return (torch.arange(n, device=device) % self.num_classes) if self.num_classes else None


GRID_MIN_WIDTH = 256  # px: grids of small images (16 px digits) are enlarged to at least this width


def to_grid(images: torch.Tensor, nrow: int | None = None, min_width: int = GRID_MIN_WIDTH) -> torch.Tensor:
    """G's images in [-1, 1] as one grid image in [0, 1]: `nrow` images per row (default: square as far as
    the count allows), 1 px padding, each image enlarged by the smallest integer factor (nearest neighbour)
    that makes the grid at least `min_width` px wide."""
    nrow = max(1, int(nrow) if nrow else int(len(images) ** 0.5))
    cols = min(nrow, len(images))
    factor = max(1, math.ceil(((min_width - 1) / cols - 1) / images.shape[-1]))
    x = images.float().add(1).div(2).clamp(0, 1)
    if factor > 1:
        x = x.repeat_interleave(factor, dim=-2).repeat_interleave(factor, dim=-1)
    return make_grid(x, nrow=nrow, padding=1)


@contextlib.contextmanager
def eval_mode(G: nn.Module):
    """G in eval mode (BN running statistics) inside the block, back in the mode it had after it."""
    was_training = G.training
    G.eval()
    try:
        yield G
    finally:
        G.train(was_training)


@torch.no_grad()
def generate(G: nn.Module, z: torch.Tensor, y: torch.Tensor | None, device, batch: int = 250) -> torch.Tensor:
    """G(z, y) in eval mode, `batch` rows at a time on `device`, as float32 on the CPU (z, y on the CPU)."""
    with eval_mode(G):
        return torch.cat([G(z[i:i + batch].to(device), None if y is None else y[i:i + batch].to(device)).float().cpu()
                          for i in range(0, len(z), batch)])


@torch.no_grad()
def sample_grid(G: nn.Module, z: torch.Tensor, y=None, nrow: int | None = None) -> torch.Tensor:
    """A grid of G(z) in [0, 1] (`nrow` images per row, see to_grid), with G in eval mode (BN running
    statistics)."""
    with eval_mode(G):
        return to_grid(G(z, y), nrow)


@torch.no_grad()
def class_grids(G: nn.Module, z: torch.Tensor, classes) -> dict[int, torch.Tensor]:
    """class -> grid of G(z, class) in [0, 1], G in eval mode (BN running statistics)."""
    with eval_mode(G):
        return {int(c): to_grid(G(z, torch.full((len(z),), int(c), dtype=torch.long, device=z.device)))
                for c in classes}
