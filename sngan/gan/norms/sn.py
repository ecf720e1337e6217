"""norm=sn: spectral normalization (Miyato et al. 2018), W / sigma(W) by power iteration."""
from __future__ import annotations

from ...errors import ConfigError
from .registry import Norm, register_norm
from .spectral import spectral_norm


@register_norm("sn")
class SpectralNormalization(Norm):
    def validate(self) -> None:
        if int(self.cfg.get("power_iters", 1)) < 1:
            raise ConfigError(f"norm.power_iters must be >= 1, got {self.cfg.power_iters}")

    def reparametrize(self, layer) -> None:
        spectral_norm(layer, power_iters=int(self.cfg.get("power_iters", 1)), eps=float(self.cfg.get("eps", 1e-12)))
