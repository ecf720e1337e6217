"""norm=ln: the SN paper's layer-norm baseline, a layer norm over (C, H, W) of each D conv output but the
first conv's (GroupNorm with one group: the same statistics, no fixed input size). Without the gain
gamma by default, as the paper ran it (norm.gain; see feature.py)."""
from __future__ import annotations

from torch import nn

from .feature import feature_norm
from .registry import Norm, register_norm


@register_norm("ln")
class LayerNormalization(Norm):
    def feature_layer(self, channels: int) -> nn.Module:
        return feature_norm("ln", channels, bool(self.cfg.get("gain", False)))
