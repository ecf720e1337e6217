"""MLPs for the 2-D mixture benchmark (arch=mlp), sized like the unrolled-GAN / VEEGAN ones.

G: z -> [Linear(hidden), ReLU] x g_layers -> Linear(2): unbounded output, since the grid spans [-4, 4].
D: x (2) -> [Linear(hidden), LeakyReLU 0.2] x d_layers -> Linear(1): one logit.
"""
from __future__ import annotations

import torch
from torch import nn


def _stack(d_in: int, hidden: int, layers: int, act) -> list[nn.Module]:
    mods = []
    for i in range(layers):
        mods += [nn.Linear(d_in if i == 0 else hidden, hidden), act()]
    return mods


class MLPGenerator(nn.Module):
    def __init__(self, z_dim: int, hidden: int, layers: int, out_dim: int = 2):
        super().__init__()
        self.main = nn.Sequential(*_stack(z_dim, hidden, layers, nn.ReLU), nn.Linear(hidden, out_dim))

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.main(z)


class MLPDiscriminator(nn.Module):
    def __init__(self, in_dim: int, hidden: int, layers: int):
        super().__init__()
        self.main = nn.Sequential(*_stack(in_dim, hidden, layers, lambda: nn.LeakyReLU(0.2)), nn.Linear(hidden, 1))

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.main(x).squeeze(1)
