"""norm=wc: weight clipping (WGAN, Arjovsky et al. 2017) after each D step."""
from __future__ import annotations

import torch

from ...errors import ConfigError
from .registry import Norm, register_norm


@register_norm("wc")
class WeightClipping(Norm):
    def validate(self) -> None:
        if float(self.cfg.clip) <= 0:
            raise ConfigError(f"norm.clip must be > 0, got {self.cfg.clip}")

    @torch.no_grad()
    def after_d_step(self, D) -> None:
        clip = float(self.cfg.clip)
        for p in D.parameters():
            p.clamp_(-clip, clip)
