"""Feature normalization inside D for the SN paper's layer-norm and batch-norm baselines.

norm=ln puts a layer norm over (C, H, W) of each conv output (GroupNorm with one group: the same
statistics, one gain and bias per channel, no fixed input size); norm=bn puts a BatchNorm2d there.
As in the paper's code, the conv that reads the image gets none.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

FEATURE_NORMS = ("ln", "bn")


def feature_norm_factory(cfg) -> Callable[[int], nn.Module] | None:
    """channels -> normalization layer for D's feature maps, or None when norm is not ln/bn."""
    name = cfg.norm.name
    if name == "ln":
        return lambda channels: nn.GroupNorm(1, channels)
    if name == "bn":
        return lambda channels: nn.BatchNorm2d(channels)
    return None


def norm_or_identity(factory: Callable[[int], nn.Module] | None, channels: int) -> nn.Module:
    return factory(channels) if factory is not None else nn.Identity()


def discriminate(D, real: torch.Tensor, fake: torch.Tensor, y_real=None, y_fake=None,
                 separate: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """D's logits on real and on fake images.

    One forward on the concatenation is cheaper, but with batch norm in D that would normalize
    each image by statistics of a mixed real/fake batch; separate=True (used for norm=bn) forwards
    real and fake apart so each batch is normalized by its own statistics, the usual choice.
    """
    if separate:
        return D(real, y_real), D(fake, y_fake)
    logits = D(torch.cat([real, fake]), None if y_real is None else torch.cat([y_real, y_fake]))
    return logits[:len(real)], logits[len(real):]
