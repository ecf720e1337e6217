"""norm=bssn: bidirectional scaled spectral normalization (Lin, Sekar, Fanti 2020)."""
from __future__ import annotations

from ...errors import ConfigError
from .registry import register_norm
from .sn import SpectralNormalization
from .spectral import spectral_norm


@register_norm("bssn")
class BidirectionalScaledSN(SpectralNormalization):
    def validate(self) -> None:
        super().validate()
        if float(self.cfg.get("scale", 1.0)) <= 0:
            raise ConfigError(f"norm.scale must be > 0, got {self.cfg.scale}")

    def reparametrize(self, layer) -> None:
        spectral_norm(layer, power_iters=int(self.cfg.get("power_iters", 1)), eps=float(self.cfg.get("eps", 1e-12)),
                      scale=float(self.cfg.get("scale", 1.0)), bidirectional=True)
