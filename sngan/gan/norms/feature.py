"""The feature normalization layers of the LN and BN baselines, with or without the learnable gain.

The SN paper excluded the gain gamma from WN, BN and LN in all comparisons "so as not to overtly violate
the Lipschitz condition" (arXiv 1802.05957, §4): with gain=false the layer normalizes and adds a learnable
bias beta only; gain=true gives the usual affine layer (gamma and beta).
"""
from __future__ import annotations

import torch
from torch import nn


class BiasOnly(nn.Module):
    """`norm` (a non-affine normalization) followed by a learnable per-channel bias beta; no gain."""

    def __init__(self, norm: nn.Module, channels: int):
        super().__init__()
        self.norm = norm
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x) + self.bias[None, :, None, None]


def feature_norm(kind: str, channels: int, gain: bool, eps: float) -> nn.Module:
    """'ln' (a layer norm over (C, H, W): GroupNorm with one group) or 'bn' (BatchNorm2d)."""
    make = (lambda affine: nn.GroupNorm(1, channels, eps=eps, affine=affine)) if kind == "ln" else \
        (lambda affine: nn.BatchNorm2d(channels, eps=eps, affine=affine))
    return make(True) if gain else BiasOnly(make(False), channels)
