"""What the loop trains: G and D, the modules that train them (DDP or themselves), their optimizers and G's EMA."""
from __future__ import annotations

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


def build_optimizers(optim: OptimOptions, G: nn.Module, D: nn.Module, fused: bool = False):
    """Adam for G and D; fused (one kernel for all parameters, no host sync) on CUDA."""
    betas = (optim.beta1, optim.beta2)
    kwargs = {"fused": True} if fused else {}
    return (torch.optim.Adam(G.parameters(), lr=optim.lr, betas=betas, **kwargs),
            torch.optim.Adam(D.parameters(), lr=optim.lr, betas=betas, **kwargs))
