"""The SN-GAN paper's standard CNN, in two variants (arch.variant):

- paper (default): the paper's Table 3 (arXiv 1802.05957, Appendix B). D: [conv 3x3, conv 4x4 stride 2] per
  stage, the 3x3 conv doubling the width (64, 64, 128, 128, 256, 256 at 32 px), then conv 3x3 (512) and a dense
  layer to one logit; leaky ReLU 0.1; z ~ N(0, I).
- chainer_gan_lib: the pair the paper's standard-CNN numbers were trained with, pfnet-research/chainer-gan-lib
  @ cf9efba common/net.py: DCGANGenerator (lines 56-105) + SNDCGANDiscriminator (lines 199-221). Its D doubles the
  width in the 4x4 stride-2 conv instead (3->64, 64->128 s2, 128->128, 128->256 s2, 256->256, 256->512 s2,
  512->512: 5,860,865 parameters against Table 3's 2,935,873), keeps Chainer's leaky-ReLU slope 0.2
  (F.leaky_relu's default, lines 214-220), and its G draws z ~ U(-1, 1) (make_hidden, lines 81-89) and ends in a
  3x3 stride-1 deconvolution (dc4, line 74).

G (both): z -> dense (b x b x g_ch) -> batch norm of each of the b*b*g_ch dense outputs (chainer-gan-lib's bn0 =
BatchNormalization(bottom_width * bottom_width * ch), line 76: per unit, before the reshape) -> ReLU -> reshape
-> [deconv 4x4 stride 2, BN, ReLU] x n_up -> 3x3 conv -> tanh, channels halving each stage (512 -> 256 -> 128 -> 64
at 32 px), b = resolution / 2**n_up. Every batch norm uses Chainer's eps (arch.bn_eps).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class Variant:
    """What an arch.variant builds."""

    d_layout: str      # "table3": the 3x3 conv doubles the width; "stride_doubles": the 4x4 stride-2 conv does
    d_slope: float     # D's leaky-ReLU slope
    latent: str        # G's input: "normal" N(0, I) or "uniform" U(-1, 1)
    g_last: str        # G's last 3x3 layer: "conv" or "deconv" (stride 1: the same function, weights transposed)


VARIANTS = {
    "paper": Variant("table3", 0.1, "normal", "conv"),
    "chainer_gan_lib": Variant("stride_doubles", 0.2, "uniform", "deconv"),
}


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
    def __init__(self, z_dim: int, resolution: int, channels: int, g_ch: int | None, bn_eps: float,
                 last: str = "conv"):
        super().__init__()
        g_ch = paper_width(g_ch, 512, resolution)
        n_up, self.bottom = stage_count(resolution)
        widths = [max(g_ch >> i, min(g_ch, 32)) for i in range(n_up + 1)]  # floor of 32 channels
        self.g_ch = g_ch
        self.dense = nn.Linear(z_dim, self.bottom * self.bottom * g_ch)
        self.bn0 = nn.BatchNorm1d(self.bottom * self.bottom * g_ch, eps=bn_eps)  # per unit, before the reshape
        layers = []
        for c_in, c_out in zip(widths[:-1], widths[1:]):
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1), nn.BatchNorm2d(c_out, eps=bn_eps), nn.ReLU()]
        to_image = nn.ConvTranspose2d if last == "deconv" else nn.Conv2d
        layers += [to_image(widths[-1], channels, 3, 1, 1), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = F.relu(self.bn0(self.dense(z)))
        return self.main(h.view(-1, self.g_ch, self.bottom, self.bottom))


def discriminator_widths(layout: str, d_ch: int, n_down: int) -> list[tuple[int, int]]:
    """(3x3 conv width, 4x4 stride-2 conv width) per stage, then the last 3x3 conv's width alone."""
    if layout == "table3":  # 64, 64 | 128, 128 | 256, 256 | 512
        return [(d_ch << i, d_ch << i) for i in range(n_down)] + [(d_ch << n_down, 0)]
    return [(d_ch << i, d_ch << (i + 1)) for i in range(n_down)] + [(d_ch << n_down, 0)]  # 64, 128 | 128, 256 | ...


class DCGANDiscriminator(nn.Module):
    def __init__(self, resolution: int, channels: int, d_ch: int | None, feature_norm=None,
                 layout: str = "table3", slope: float = 0.1):
        super().__init__()
        d_ch = paper_width(d_ch, 64, resolution)
        n_down, bottom = stage_count(resolution)
        # feature_norm: channels -> layer after each conv but the first (norm=ln/bn baselines)
        # (without it the layer list, hence the layer names in logs and checkpoints, is unchanged)
        fn = (lambda c: [feature_norm(c)]) if feature_norm else (lambda c: [])
        layers, c_in = [], channels
        *stages, (last, _) = discriminator_widths(layout, d_ch, n_down)
        for i, (c3, c4) in enumerate(stages):
            layers += [nn.Conv2d(c_in, c3, 3, 1, 1), *(fn(c3) if i else []), nn.LeakyReLU(slope),
                       nn.Conv2d(c3, c4, 4, 2, 1), *fn(c4), nn.LeakyReLU(slope)]
            c_in = c4
        layers += [nn.Conv2d(c_in, last, 3, 1, 1), *fn(last), nn.LeakyReLU(slope)]
        self.main = nn.Sequential(*layers)
        self.fc = nn.Linear(bottom * bottom * last, 1)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.fc(self.main(x).flatten(1)).squeeze(1)
