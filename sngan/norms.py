"""Weight normalizations of a network's conv and linear layers, chosen by the `norm` config group."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import parametrizations, parametrize

from .errors import ConfigError
from .spectral import SpectralNorm, find_spectral_norm, singular_values, spectral_norm

# gp and ortho add a term to D's loss (sngan.penalties), ln and bn add layers to D (sngan.feature_norm):
# they leave the weights as they are here.
NORMS = ("none", "sn", "wn", "wc", "bssn", "gp", "ln", "bn", "ortho")
WEIGHTED = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)


def weighted_layers(net: nn.Module) -> dict[str, nn.Module]:
    """Layers with a weight matrix, by qualified name (the names used in log tags)."""
    return {name: m for name, m in net.named_modules() if isinstance(m, WEIGHTED)}


def apply_norm(net: nn.Module, norm_cfg) -> nn.Module:
    """Reparametrize every weighted layer of `net` as the config says (in place)."""
    name = norm_cfg.name
    if name not in NORMS:
        raise ConfigError(f"unknown norm '{name}': choose one of {', '.join(NORMS)}")
    for layer in weighted_layers(net).values():
        if name == "sn":
            spectral_norm(layer, power_iters=int(norm_cfg.get("power_iters", 1)),
                          eps=float(norm_cfg.get("eps", 1e-12)))
        elif name == "bssn":  # bidirectional scaled SN (Lin, Sekar, Fanti 2020)
            spectral_norm(layer, power_iters=int(norm_cfg.get("power_iters", 1)),
                          eps=float(norm_cfg.get("eps", 1e-12)), scale=float(norm_cfg.get("scale", 1.0)),
                          bidirectional=True)
        elif name == "wn":
            parametrizations.weight_norm(layer)
    return net


@torch.no_grad()
def apply_norm_g(G: nn.Module, cfg) -> nn.Module:
    """SN in the generator too (norm_g=sn), as SAGAN and BigGAN do; norm_g=none leaves G plain."""
    name = cfg.get("norm_g", "none") or "none"
    if name not in ("none", "sn"):
        raise ConfigError(f"unknown norm_g '{name}': choose none or sn")
    if name == "sn":
        for layer in weighted_layers(G).values():
            if not isinstance(layer, nn.Embedding):  # class gains/biases of conditional BN stay free
                spectral_norm(layer, power_iters=1)
    return G


@torch.no_grad()
def clip_weights(net: nn.Module, clip: float) -> None:
    """WGAN weight clipping: every parameter into [-clip, clip] (after each optimizer step)."""
    for p in net.parameters():
        p.clamp_(-clip, clip)


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


__all__ = ["NORMS", "apply_norm", "apply_norm_g", "clip_weights", "effective_weight", "raw_weight", "sigma_estimates",
           "fold_parametrizations", "singular_values_of", "weighted_layers", "SpectralNorm"]
