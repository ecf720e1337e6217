"""What the loop trains with besides the models (sngan.build): the optimizers and the data stream."""
from __future__ import annotations

import torch
from torch import nn

from ..data.batches import BatchStream
from ..data.images import load_images
from ..data.points import PointStream
from .options import OptimOptions


def build_optimizers(optim: OptimOptions, G: nn.Module, D: nn.Module, fused: bool = False):
    """Adam for G and D; fused (one kernel for all parameters, no host sync) on CUDA."""
    betas = (optim.beta1, optim.beta2)
    kwargs = {"fused": True} if fused else {}
    return (torch.optim.Adam(G.parameters(), lr=optim.lr, betas=betas, **kwargs),
            torch.optim.Adam(D.parameters(), lr=optim.lr, betas=betas, **kwargs))


def build_stream(dataset_cfg, batch_size: int, seed: int, device: torch.device, start: int, par,
                 num_workers: int, data_on_device: bool):
    """The endless stream of real batches (2-D points or images), positioned at batch `start`, this rank's
    share of each global batch under torchrun."""
    if dataset_cfg.get("kind", "images") == "points":
        return par.shard_stream(PointStream(dataset_cfg, batch_size, seed, device, start=start))
    return BatchStream(load_images(dataset_cfg), batch_size, seed, bool(dataset_cfg.hflip), device,
                       num_workers=num_workers, start=start, rank=par.rank, world=par.world,
                       on_device=data_on_device, in_memory=bool(dataset_cfg.get("in_memory", True)))
