"""norm=bn: the SN paper's batch-norm baseline, a BatchNorm2d after each D conv but the first.

Real and fake go through D in separate forwards, so each batch is normalized by its own statistics
(one forward of the concatenation would normalize each image by a mixed real/fake batch).
"""
from __future__ import annotations

from torch import nn

from .registry import Norm, register_norm


@register_norm("bn")
class BatchNormalization(Norm):
    separate_real_fake = True

    @staticmethod
    def feature_layer(channels: int) -> nn.Module:
        return nn.BatchNorm2d(channels)
