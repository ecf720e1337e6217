"""norm=ln: the SN paper's layer-norm baseline, a layer norm over (C, H, W) of each D conv output but the
first conv's (GroupNorm with one group: the same statistics, one gain and bias per channel, no fixed
input size)."""
from __future__ import annotations

from torch import nn

from .registry import Norm, register_norm


@register_norm("ln")
class LayerNormalization(Norm):
    @staticmethod
    def feature_layer(channels: int) -> nn.Module:
        return nn.GroupNorm(1, channels)
