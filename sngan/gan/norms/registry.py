"""The norm registry: one entry per `norm` option (conf/norm/<name>.yaml + one module here).

An entry declares every way the option acts on D, so the training loop never tests a norm's name:
- `init(D)`: re-initialize D's weights once built (orthonormal);
- `reparametrize(layer)`: rewrite each weighted layer of D (SN, BSSN, WN);
- `feature_layer(channels)`: a layer D puts after its convs (LN, BN), or None;
- `penalty(...)`: terms added to D's loss, by log tag (GP, orthonormal);
- `after_d_step(D)`: what runs after each D optimizer step (WC's clipping);
- `separate_real_fake`: D must see real and fake in separate forwards (batch statistics);
- `supports_compile`: False where torch.compile cannot run the option;
- `Options`: its frozen options, parsed from conf/norm/<name>.yaml (defaults in YAML only) and checked by
  `validate()` before any work.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from ...errors import ConfigError
from ...options import parse
from .layers import weighted_layers

NORMS: dict[str, type["Norm"]] = {}


def register_norm(name: str) -> Callable[[type["Norm"]], type["Norm"]]:
    def add(cls: type["Norm"]) -> type["Norm"]:
        if name in NORMS:
            raise ValueError(f"norm '{name}' is registered twice")
        cls.name = name
        NORMS[name] = cls
        return cls
    return add


@dataclass(frozen=True)
class NoOptions:
    """A norm without options (conf/norm/<name>.yaml holds only its name)."""


class Norm:
    """A norm that does nothing; entries override what they use. `options` is its parsed Options."""

    name = ""
    Options: type = NoOptions
    separate_real_fake = False
    supports_compile = True
    feature_layer: Callable[[int], nn.Module] | None = None  # channels -> layer after D's convs (a method)

    def __init__(self, options):
        self.options = options

    def validate(self) -> None:
        """ConfigError naming the fix when this option's keys are out of range."""

    def init(self, D: nn.Module) -> None:
        """Re-initialize D's weights, before any reparametrization."""

    def reparametrize(self, layer: nn.Module) -> None:
        """Rewrite one weighted layer of D (in place)."""

    def apply(self, D: nn.Module) -> nn.Module:
        """D initialized as this norm wants, then every weighted layer reparametrized (in place)."""
        self.init(D)
        for layer in weighted_layers(D).values():
            self.reparametrize(layer)
        return D

    def penalty(self, D: nn.Module, real: torch.Tensor, fake: torch.Tensor, y, *,
                rng: Callable[[], torch.Generator], batch_size: int, shard) -> dict[str, torch.Tensor]:
        """Weighted terms to add to D's loss, by log tag. rng() gives this D step's own random stream,
        to draw for the global batch of `batch_size` rows; `shard` picks this rank's rows."""
        return {}

    def after_d_step(self, D: nn.Module) -> None:
        """Runs after each D optimizer step."""


def build_norm(norm_cfg) -> Norm:
    """The registered entry for norm_cfg.name with its options parsed from that node, validated."""
    name = str(norm_cfg.name)
    if name not in NORMS:
        raise ConfigError(f"unknown norm '{name}': choose one of {', '.join(NORMS)}")
    cls = NORMS[name]
    norm = cls(parse(cls.Options, norm_cfg, "norm"))
    norm.validate()
    return norm
