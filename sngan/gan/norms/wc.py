"""norm=wc: weight clipping (WGAN, Arjovsky et al. 2017) after each D step.

The SN paper clipped "the convolutional weight of each layer" at c = 0.01 (arXiv 1802.05957, §4.1):
weights only, biases left alone (norm.clip_biases=true clamps every parameter, as the original WGAN code).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ...errors import ConfigError
from .registry import Norm, register_norm


@register_norm("wc")
class WeightClipping(Norm):
    @dataclass(frozen=True)
    class Options:
        clip: float             # c: weights clamped to [-c, c]
        clip_biases: bool       # clamp the biases too

    def validate(self) -> None:
        if self.options.clip <= 0:
            raise ConfigError(f"norm.clip must be > 0, got {self.options.clip}")

    @torch.no_grad()
    def after_d_step(self, D) -> None:
        clip, biases = self.options.clip, self.options.clip_biases
        for name, p in D.named_parameters():
            if biases or name.rsplit(".", 1)[-1] == "weight":
                p.clamp_(-clip, clip)
