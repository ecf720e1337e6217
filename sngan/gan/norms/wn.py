"""norm=wn: weight normalization (Salimans & Kingma 2016) of every D layer.

As the SN paper ran it (arXiv 1802.05957, §4: gamma excluded from WN, BN and LN), each output row of W is
scaled to unit norm with no learnable gain: W_row / ||W_row||; biases stay. norm.gain=true gives torch's
weight_norm (W = g * V / ||V|| with a learnable g per row), which bounds nothing.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils import parametrizations, parametrize

from .registry import Norm, register_norm


class UnitRows(nn.Module):
    """W -> W / ||W||, norms over every axis but `dim` (the output channels), so each output row has norm 1."""

    def __init__(self, dim: int = 0, eps: float = 1e-12):
        super().__init__()
        self.dim, self.eps = dim, eps

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        dims = [d for d in range(weight.dim()) if d != self.dim]
        return weight / torch.linalg.vector_norm(weight, dim=dims, keepdim=True).clamp_min(self.eps)


@register_norm("wn")
class WeightNormalization(Norm):
    @dataclass(frozen=True)
    class Options:
        gain: bool              # a learnable gain per row (torch's weight_norm)

    def reparametrize(self, layer) -> None:
        if self.options.gain:
            parametrizations.weight_norm(layer)
            return
        dim = 1 if isinstance(layer, nn.ConvTranspose2d) else 0  # output channels, as SN's reshape
        parametrize.register_parametrization(layer, "weight", UnitRows(dim))
