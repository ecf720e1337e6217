"""What the loop trains: G and D, the modules that train them (DDP or themselves), their optimizers and G's EMA."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn

from ..gan.ema import EMA, sampling_generator, update_ema
from .options import OptimOptions


@dataclass
class Models:
    """G and D are the plain fp32 eager modules (state dicts, EMA, samples, metrics); G_run and D_run their fast
    paths (train.speed: bf16, NHWC, compiled; G and D themselves by default); G_train and D_train the fast paths the
    gradients are synchronized through (DistributedDataParallel under torchrun)."""

    G: nn.Module
    D: nn.Module
    G_run: nn.Module
    D_run: nn.Module
    G_train: nn.Module
    D_train: nn.Module
    opt_G: torch.optim.Optimizer
    opt_D: torch.optim.Optimizer
    ema: EMA | None = None
    d_params: list = field(default_factory=list)

    def __post_init__(self):
        self.d_params = list(self.D.parameters())

    def stateful(self) -> dict:
        """The objects whose state_dict every checkpoint holds, by name."""
        return {"G": self.G, "D": self.D, "opt_G": self.opt_G, "opt_D": self.opt_D}

    @property
    def sampler(self) -> nn.Module:
        """The generator that samples and metrics read: the EMA copy when on, else G."""
        return sampling_generator(self.G, self.ema)

    @property
    def sampler_name(self) -> str:
        return "G_ema" if self.ema is not None else "G"

    def set_lr(self, lr: float) -> None:
        for opt in (self.opt_G, self.opt_D):
            for group in opt.param_groups:
                group["lr"] = lr

    def after_g_step(self, step: int, par) -> None:
        """Step boundary bookkeeping of the models: rank 0's buffers (BN statistics) everywhere, then G's EMA."""
        par.broadcast_buffers(self.G, self.D)
        update_ema(self.ema, self.G, step)


class ChainerAdam(torch.optim.Adam):
    """Adam with Chainer's eps placement (chainer.optimizers.Adam, optim.adam_eps=chainer): Chainer updates
    p -= lr sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps), eps on the raw sqrt(v); torch divides by
    sqrt(v_hat) + eps = (sqrt(v) + eps sqrt(1 - b2^t)) / sqrt(1 - b2^t). So torch's own update with
    eps_t = eps / sqrt(1 - b2^t) is Chainer's: a scalar per step, set before each step, which keeps the fused kernel.
    The step count lives in the param groups, so it travels with state_dict() and resumes exactly."""

    def __init__(self, params, lr: float, betas: tuple[float, float], eps: float = 1e-8, **kwargs):
        super().__init__(params, lr=lr, betas=betas, eps=eps, **kwargs)
        for group in self.param_groups:
            group["chainer_eps"], group["chainer_t"] = eps, 0

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            group["eps"] = group["chainer_eps"] / math.sqrt(1.0 - group["betas"][1] ** (group["chainer_t"] + 1))
        loss = super().step(closure)
        for group in self.param_groups:
            group["chainer_t"] += 1
        return loss


def build_optimizers(optim: OptimOptions, G: nn.Module, D: nn.Module, fused: bool = False):
    """Adam for G and D (eps placed as optim.adam_eps says); fused (one kernel for all parameters, no host sync) on
    CUDA."""
    adam = ChainerAdam if optim.adam_eps == "chainer" else torch.optim.Adam
    betas = (optim.beta1, optim.beta2)
    kwargs = {"fused": True} if fused else {}
    return (adam(G.parameters(), lr=optim.lr, betas=betas, **kwargs),
            adam(D.parameters(), lr=optim.lr, betas=betas, **kwargs))
