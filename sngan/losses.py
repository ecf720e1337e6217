"""GAN losses on raw discriminator logits, keyed by the `loss` config group's name."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .errors import ConfigError


def d_loss(name: str, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    if name == "bce":
        return F.softplus(-real).mean() + F.softplus(fake).mean()
    if name == "hinge":
        return F.relu(1 - real).mean() + F.relu(1 + fake).mean()
    if name == "wgan":
        return fake.mean() - real.mean()
    raise ConfigError(f"unknown loss '{name}': choose one of {', '.join(LOSSES)}")


def g_loss(name: str, fake: torch.Tensor) -> torch.Tensor:
    if name == "bce":
        return F.softplus(-fake).mean()  # non-saturating: -log sigmoid(D(G(z)))
    if name in ("hinge", "wgan"):
        return -fake.mean()
    raise ConfigError(f"unknown loss '{name}': choose one of {', '.join(LOSSES)}")


LOSSES = ("bce", "hinge", "wgan")
