"""Drawing from a generator: the latents of every step, sample grids, and G rebuilt from a checkpoint.

Used by the training loop and by `sngan sample` / `sngan eval`, which never import the loop.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from omegaconf import OmegaConf
from torch import nn
from torchvision.utils import make_grid

from ..data import streams
from ..data.streams import to_device
from .archs import build_generator, model_shape
from .norms import apply_norm_g, fold_parametrizations


@dataclass(frozen=True)
class Latents:
    """G's inputs as pure functions of (seed, keys): resumed runs draw exactly what they would have."""

    seed: int
    z_dim: int
    num_classes: int  # 0: unconditional, no labels

    def noise(self, n: int, device, *keys: int) -> torch.Tensor:
        return to_device(torch.randn(n, self.z_dim, generator=streams.generator(self.seed, streams.NOISE, *keys)), device)

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


@torch.no_grad()
def sample_grid(G: nn.Module, z: torch.Tensor, y=None, nrow: int | None = None) -> torch.Tensor:
    """A grid of G(z) in [0, 1] (`nrow` images per row, see to_grid), with G in eval mode (BN running
    statistics)."""
    was_training = G.training
    G.eval()
    try:
        return to_grid(G(z, y), nrow)
    finally:
        G.train(was_training)


@torch.no_grad()
def class_grids(G: nn.Module, z: torch.Tensor, classes) -> dict[int, torch.Tensor]:
    """class -> grid of G(z, class) in [0, 1], G in eval mode (BN running statistics)."""
    was_training = G.training
    G.eval()
    try:
        return {int(c): to_grid(G(z, torch.full((len(z),), int(c), dtype=torch.long, device=z.device)))
                for c in classes}
    finally:
        G.train(was_training)


def generator_from_state(state: dict, device: torch.device, prefer_ema: bool = True):
    """A checkpoint's generator (its EMA copy when present and preferred), parametrizations folded, in eval
    mode, and the training config it was made with."""
    cfg = OmegaConf.create(state["config"])
    G = apply_norm_g(build_generator(cfg.arch, model_shape(cfg)), cfg.get("norm_g", "none"))
    weights = state["G_ema"] if prefer_ema and state.get("G_ema") is not None else state["G"]
    G.load_state_dict(weights)
    G.eval()  # fold with u, v as saved: in training mode reading the weight would iterate once more
    return fold_parametrizations(G).to(device), cfg
