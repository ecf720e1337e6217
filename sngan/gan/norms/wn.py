"""norm=wn: weight normalization (Salimans & Kingma 2016) of every D layer."""
from __future__ import annotations

from torch.nn.utils import parametrizations

from .registry import Norm, register_norm


@register_norm("wn")
class WeightNormalization(Norm):
    def reparametrize(self, layer) -> None:
        parametrizations.weight_norm(layer)
