"""norm=ln: the SN paper's layer-norm baseline, a layer norm over (C, H, W) of each D conv output but the
first conv's (GroupNorm with one group: the same statistics, no fixed input size). Without the gain
gamma by default, as the paper ran it (norm.gain; see feature.py)."""
from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from ...errors import ConfigError
from .feature import feature_norm
from .registry import Norm, register_norm


@register_norm("ln")
class LayerNormalization(Norm):
    @dataclass(frozen=True)
    class Options:
        gain: bool      # the learnable gain gamma (the paper excluded it)
        eps: float

    def validate(self) -> None:
        if self.options.eps <= 0:
            raise ConfigError(f"norm.eps must be > 0, got {self.options.eps}")

    def feature_layer(self, channels: int) -> nn.Module:
        return feature_norm("ln", channels, self.options.gain, self.options.eps)
