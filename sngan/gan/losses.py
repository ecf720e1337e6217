"""GAN losses on raw discriminator logits: one registry entry per `loss` option (conf/loss/<name>.yaml)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from ..errors import ConfigError

Tensor = torch.Tensor


@dataclass(frozen=True)
class Loss:
    name: str
    d_loss: Callable[[Tensor, Tensor], Tensor]   # (D's logits on real, on fake) -> D's loss
    g_loss: Callable[[Tensor], Tensor]           # D's logits on fake -> G's loss


LOSSES: dict[str, Loss] = {}


def register_loss(loss: Loss) -> Loss:
    if loss.name in LOSSES:
        raise ValueError(f"loss '{loss.name}' is registered twice")
    LOSSES[loss.name] = loss
    return loss


register_loss(Loss("bce", d_loss=lambda real, fake: F.softplus(-real).mean() + F.softplus(fake).mean(),
                   g_loss=lambda fake: F.softplus(-fake).mean()))  # non-saturating: -log sigmoid(D(G(z)))
register_loss(Loss("hinge", d_loss=lambda real, fake: F.relu(1 - real).mean() + F.relu(1 + fake).mean(),
                   g_loss=lambda fake: -fake.mean()))
register_loss(Loss("wgan", d_loss=lambda real, fake: fake.mean() - real.mean(),
                   g_loss=lambda fake: -fake.mean()))


def build_loss(name: str) -> Loss:
    if name not in LOSSES:
        raise ConfigError(f"unknown loss '{name}': choose one of {', '.join(LOSSES)}")
    return LOSSES[name]
