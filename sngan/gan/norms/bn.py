"""norm=bn: the SN paper's batch-norm baseline, a BatchNorm2d after each D conv but the first, without the
gain gamma by default, as the paper ran it (norm.gain; see feature.py).

Real and fake go through D in separate forwards, so each batch is normalized by its own statistics
(one forward of the concatenation would normalize each image by a mixed real/fake batch).
"""
from __future__ import annotations

from torch import nn

from .feature import feature_norm
from .registry import Norm, register_norm


@register_norm("bn")
class BatchNormalization(Norm):
    separate_real_fake = True

    def feature_layer(self, channels: int) -> nn.Module:
        return feature_norm("bn", channels, bool(self.cfg.get("gain", False)))
