"""The SN-GAN paper's standard CNN (its Table 3), sized to the image resolution.

G: z -> dense (b x b x g_ch) -> [deconv 4x4 stride 2, BN, ReLU] x n_up -> conv 3x3 -> tanh,
   channels halving each stage (512 -> 256 -> 128 -> 64 at 32 px), b = resolution / 2**n_up.
D: [conv 3x3, conv 4x4 stride 2] per stage with leaky ReLU 0.1, channels doubling from d_ch
   (64 -> 128 -> 256), then conv 3x3 (8 * d_ch) and a dense layer to one logit.
"""
from __future__ import annotations

import torch
from torch import nn


def paper_width(width: int | None, paper: int, resolution: int) -> int:
    """The configured width, or the paper's scaled by resolution / 32 below 32 px (cheaper digits)."""
    return int(width) if width else max(8, paper * min(resolution, 32) // 32)


def stage_count(resolution: int) -> tuple[int, int]:
    """(number of 2x stages, bottom size): 3 stages at 32 and 48 px as in the paper, more above."""
    n = 3
    while resolution % (2 ** (n + 1)) == 0 and resolution // 2 ** n > 6:
        n += 1
    while n > 1 and resolution // 2 ** n < 2:
        n -= 1
    if resolution % (2 ** n):
        raise ValueError(f"resolution {resolution} is not divisible by {2 ** n}")
    return n, resolution // 2 ** n


class DCGANGenerator(nn.Module):
    def __init__(self, z_dim: int = 128, resolution: int = 32, channels: int = 3, g_ch: int | None = None):
        super().__init__()
        g_ch = paper_width(g_ch, 512, resolution)
        n_up, self.bottom = stage_count(resolution)
        widths = [max(g_ch >> i, min(g_ch, 32)) for i in range(n_up + 1)]  # floor of 32 channels
        self.g_ch = g_ch
        self.dense = nn.Linear(z_dim, self.bottom * self.bottom * g_ch)
        layers = [nn.BatchNorm2d(g_ch), nn.ReLU()]
        for c_in, c_out in zip(widths[:-1], widths[1:]):
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1), nn.BatchNorm2d(c_out), nn.ReLU()]
        layers += [nn.Conv2d(widths[-1], channels, 3, 1, 1), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.main(self.dense(z).view(-1, self.g_ch, self.bottom, self.bottom))


class DCGANDiscriminator(nn.Module):
    def __init__(self, resolution: int = 32, channels: int = 3, d_ch: int | None = None, feature_norm=None):
        super().__init__()
        d_ch = paper_width(d_ch, 64, resolution)
        n_down, bottom = stage_count(resolution)
        # feature_norm: channels -> layer after each conv but the first (norm=ln/bn baselines)
        # (without it the layer list, hence the layer names in logs and checkpoints, is unchanged)
        fn = (lambda c: [feature_norm(c)]) if feature_norm else (lambda c: [])
        layers, c_in = [], channels
        for i in range(n_down):
            c = d_ch << i
            layers += [nn.Conv2d(c_in, c, 3, 1, 1), *(fn(c) if i else []), nn.LeakyReLU(0.1),
                       nn.Conv2d(c, c, 4, 2, 1), *fn(c), nn.LeakyReLU(0.1)]
            c_in = c
        layers += [nn.Conv2d(c_in, d_ch << n_down, 3, 1, 1), *fn(d_ch << n_down), nn.LeakyReLU(0.1)]
        self.main = nn.Sequential(*layers)
        self.fc = nn.Linear(bottom * bottom * (d_ch << n_down), 1)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.fc(self.main(x).flatten(1)).squeeze(1)
