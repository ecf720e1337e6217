"""norm=bn: the SN paper's batch-norm baseline, a BatchNorm2d after each D conv but the first, without the
gain gamma by default, as the paper ran it (norm.gain; see feature.py), with Chainer's eps (chainer-gan-lib
common/net.py DCGANDiscriminator: BatchNormalization(..., use_gamma=False), eps 2e-5 by default).

Real and fake go through D in separate forwards, so each batch is normalized by its own statistics
(one forward of the concatenation would normalize each image by a mixed real/fake batch).
"""
from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from ...errors import ConfigError
from .feature import feature_norm
from .registry import Norm, register_norm


@register_norm("bn")
class BatchNormalization(Norm):
    separate_real_fake = True

    @dataclass(frozen=True)
    class Options:
        gain: bool      # the learnable gain gamma (the paper excluded it)
        eps: float

    def validate(self) -> None:
        if self.options.eps <= 0:
            raise ConfigError(f"norm.eps must be > 0, got {self.options.eps}")

    def feature_layer(self, channels: int) -> nn.Module:
        return feature_norm("bn", channels, self.options.gain, self.options.eps)
