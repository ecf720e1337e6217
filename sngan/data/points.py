"""2-D Gaussian mixtures (ring of 8, grid of 25): a GAN benchmark with exact, cheap metrics.

The mixtures are the standard ones of the mode-collapse literature (Unrolled GAN, Metz et al. 2017;
VEEGAN, Srivastava et al. 2017; PacGAN, Lin et al. 2018):

- ring8:  8 equally weighted Gaussians with means on a circle of radius 2, (2 cos(2 pi k / 8),
          2 sin(2 pi k / 8)), k = 0..7, each with standard deviation 0.02 per coordinate.
- grid25: 25 equally weighted Gaussians with means at {-4, -2, 0, 2, 4}^2, standard deviation 0.05.

Training batches are pure functions of (seed, batch index), like sngan.data.batches.BatchPlan, so a resumed run
draws exactly the points an uninterrupted one would.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..errors import ConfigError
from . import streams


@dataclass(frozen=True)
class Mixture:
    """Equally weighted isotropic Gaussians: means (K, 2) and one standard deviation."""

    name: str
    centers: torch.Tensor
    std: float

    @property
    def num_modes(self) -> int:
        return len(self.centers)


def ring8() -> Mixture:
    angles = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
    centers = 2.0 * torch.stack([angles.cos(), angles.sin()], dim=1)
    return Mixture("ring8", centers.float(), 0.02)


def grid25() -> Mixture:
    ticks = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
    centers = torch.cartesian_prod(ticks, ticks)
    return Mixture("grid25", centers, 0.05)


MIXTURES = {"ring8": ring8, "grid25": grid25}


def mixture(name: str) -> Mixture:
    if name not in MIXTURES:
        raise ConfigError(f"unknown 2-D dataset '{name}': choose one of {', '.join(MIXTURES)}")
    return MIXTURES[name]()


def sample_mixture(mix: Mixture, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """n points and the index of the mode each came from (modes drawn uniformly)."""
    modes = torch.randint(mix.num_modes, (n,), generator=generator)
    points = mix.centers[modes] + mix.std * torch.randn(n, 2, generator=generator)
    return points, modes


class PointStream:
    """Endless training batches of 2-D points, with BatchStream's interface: next() -> (x, y), position.

    Batch k is drawn from a generator seeded by (seed, streams.POINTS, k) alone: resuming at position k repeats
    exactly what an uninterrupted run would have drawn.
    """

    def __init__(self, name: str, batch_size: int, seed: int, device: torch.device, start: int = 0):
        self.mix = mixture(name)
        self.batch_size, self.seed, self.device, self.position = int(batch_size), int(seed), device, int(start)

    def batch(self, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        return sample_mixture(self.mix, self.batch_size, streams.generator(self.seed, streams.POINTS, k))

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = self.batch(self.position)
        self.position += 1
        return x.to(self.device), y.to(self.device)
