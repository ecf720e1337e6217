"""norm=bssn: bidirectional scaled spectral normalization (Lin, Sekar, Fanti 2020)."""
from __future__ import annotations

from dataclasses import dataclass

from ...errors import ConfigError
from .registry import register_norm
from .sn import SpectralNormalization
from .spectral import spectral_norm


@register_norm("bssn")
class BidirectionalScaledSN(SpectralNormalization):
    @dataclass(frozen=True)
    class Options:
        scale: float        # the constant the normalized weight is multiplied by
        power_iters: int
        eps: float
        warmup_iters: int

    def validate(self) -> None:
        super().validate()
        if self.options.scale <= 0:
            raise ConfigError(f"norm.scale must be > 0, got {self.options.scale}")

    def reparametrize(self, layer) -> None:
        spectral_norm(layer, power_iters=self.options.power_iters, eps=self.options.eps, scale=self.options.scale,
                      bidirectional=True, warmup_iters=self.options.warmup_iters)
