"""norm=gp: gradient penalty on D (Gulrajani et al. 2017): gp_weight * E[(||grad D(x_hat)||_2 - 1)^2] at
random interpolates x_hat of real and fake images. With loss=wgan this is WGAN-GP, with loss=bce GAN-GP."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ...errors import ConfigError
from .registry import Norm, register_norm


def gradient_penalty(D: nn.Module, real: torch.Tensor, fake: torch.Tensor, y=None,
                     generator: torch.Generator | None = None, e: torch.Tensor | None = None) -> torch.Tensor:
    """E[(||grad_x D(x_hat)||_2 - 1)^2] at x_hat = e * real + (1 - e) * fake, e ~ U[0, 1] per image
    (the one-centered penalty of WGAN-GP; e drawn from `generator` unless given). Differentiable in
    D's parameters (double backward)."""
    if e is None:
        e = torch.rand(len(real), generator=generator)
    e = e.to(real.device, real.dtype).view(-1, *[1] * (real.dim() - 1))
    x_hat = (e * real.detach() + (1 - e) * fake.detach()).requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x_hat, y).sum(), x_hat, create_graph=True)
    return (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()


@register_norm("gp")
class GradientPenalty(Norm):
    supports_compile = False  # double backward through D's input gradient

    @dataclass(frozen=True)
    class Options:
        gp_weight: float    # lambda

    def validate(self) -> None:
        if self.options.gp_weight < 0:
            raise ConfigError(f"norm.gp_weight must be >= 0, got {self.options.gp_weight}")

    def penalty(self, D, real, fake, y, *, rng, batch_size, shard):
        # drawn for the global batch, so data-parallel ranks use the weights a single process would
        e = shard(torch.rand(int(batch_size), generator=rng()))
        return {"loss/gp": self.options.gp_weight * gradient_penalty(D, real, fake, y, e=e)}
