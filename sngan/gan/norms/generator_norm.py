"""`norm_g`: spectral normalization in the generator too (SAGAN, BigGAN), or none."""
from __future__ import annotations

import torch
from torch import nn

from ...errors import ConfigError
from .layers import weighted_layers
from .spectral import spectral_norm

NORMS_G = ("none", "sn")


def check_norm_g(name: str) -> str:
    name = name or "none"
    if name not in NORMS_G:
        raise ConfigError(f"unknown norm_g '{name}': choose none or sn")
    return name


@torch.no_grad()
def apply_norm_g(G: nn.Module, name: str) -> nn.Module:
    """G with SN on its weighted layers when name is 'sn' (in place); 'none' leaves G plain."""
    if check_norm_g(name) == "sn":
        for layer in weighted_layers(G).values():
            if not isinstance(layer, nn.Embedding):  # class gains/biases of conditional BN stay free
                spectral_norm(layer, power_iters=1)
    return G
