"""norm=sn: spectral normalization (Miyato et al. 2018), W / sigma(W) by power iteration."""
from __future__ import annotations

from dataclasses import dataclass

from ...errors import ConfigError
from .registry import Norm, register_norm
from .spectral import spectral_norm


@register_norm("sn")
class SpectralNormalization(Norm):
    @dataclass(frozen=True)
    class Options:
        power_iters: int    # power iterations per D forward in training
        eps: float          # floor of the norms in the iteration
        warmup_iters: int   # iterations that refine the random u, v when D is built (0: the official code's raw u)

    def validate(self) -> None:
        if self.options.power_iters < 1:
            raise ConfigError(f"norm.power_iters must be >= 1, got {self.options.power_iters}")
        if self.options.warmup_iters < 0:
            raise ConfigError(f"norm.warmup_iters must be >= 0, got {self.options.warmup_iters}")
        if self.options.eps <= 0:
            raise ConfigError(f"norm.eps must be > 0, got {self.options.eps}")

    def reparametrize(self, layer) -> None:
        spectral_norm(layer, power_iters=self.options.power_iters, eps=self.options.eps,
                      warmup_iters=self.options.warmup_iters)
