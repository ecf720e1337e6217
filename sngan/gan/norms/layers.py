"""D's (and G's) weighted layers, and the weights they compute with, read without side effects."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import parametrize

from .spectral import find_spectral_norm, singular_values

WEIGHTED = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)


def weighted_layers(net: nn.Module) -> dict[str, nn.Module]:
    """Layers with a weight matrix, by qualified name (the names used in log tags)."""
    return {name: m for name, m in net.named_modules() if isinstance(m, WEIGHTED)}


def effective_weight(layer: nn.Module) -> torch.Tensor:
    """The weight the layer computes with (normalized where a parametrization is registered), read with
    the parametrizations in eval mode: reading it for a log must not run (and advance) SN's iteration."""
    if parametrize.is_parametrized(layer, "weight"):
        chain = layer.parametrizations.weight
        was_training = chain.training
        chain.eval()
        try:
            return layer.weight
        finally:
            chain.train(was_training)
    return layer.weight


def raw_weight(layer: nn.Module) -> torch.Tensor:
    """The trained weight before normalization (the same tensor where there is none)."""
    if parametrize.is_parametrized(layer, "weight") and find_spectral_norm(layer) is not None:
        return layer.parametrizations.weight.original
    return layer.weight


def singular_values_of(layer: nn.Module) -> torch.Tensor:
    """Singular values of the weight the layer computes with (reshaped to out x rest)."""
    return singular_values(effective_weight(layer))


def sigma_estimates(net: nn.Module) -> dict[str, float]:
    """Power-iteration estimate of sigma per SN layer, read without iterating."""
    out = {}
    for name, layer in weighted_layers(net).items():
        sn = find_spectral_norm(layer)
        if sn is not None:
            out[name] = sn.sigma(layer.parametrizations.weight.original.detach()).item()
    return out


def fold_parametrizations(net: nn.Module) -> nn.Module:
    """Replace every parametrized weight by its current value: plain layers for inference."""
    for layer in net.modules():
        if parametrize.is_parametrized(layer):
            for pname in list(layer.parametrizations.keys()):
                parametrize.remove_parametrizations(layer, pname, leave_parametrized=True)
    return net
