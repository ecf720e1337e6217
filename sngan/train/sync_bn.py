"""Batch norms whose training statistics span every rank (speed.sync_bn under torchrun), as one process would
compute them over the global batch.

On CUDA torch's nn.SyncBatchNorm; on the CPU (gloo), where it refuses CPU tensors, CPUSyncBatchNorm all-reduces
the per-feature sums (same result up to rounding). Both keep the converted layer's parameters and buffers.
"""
from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


class CPUSyncBatchNorm(_BatchNorm):
    """A batch norm (over 2-D (N, C) or 4-D (N, C, H, W) inputs) whose training statistics span all ranks: the
    per-feature sums are all-reduced with autograd."""

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.dim() not in (2, 4):
            raise ValueError(f"expected a 2-D or 4-D input, got {x.dim()}-D")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        from torch.distributed.nn.functional import all_reduce

        dims = (0,) if x.dim() == 2 else (0, 2, 3)
        view = (1, -1) if x.dim() == 2 else (1, -1, 1, 1)
        count = torch.tensor([x.numel() / x.shape[1]], dtype=x.dtype, device=x.device)
        stats = all_reduce(torch.cat([x.sum(dims), (x * x).sum(dims), count]))
        c = x.shape[1]
        n = stats[-1]
        mean = stats[:c] / n
        var = (stats[c:2 * c] / n - mean * mean).clamp_min(0)
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.mul_(1 - m).add_(mean.detach(), alpha=m)
                self.running_var.mul_(1 - m).add_(var.detach() * (n / (n - 1)), alpha=m)
        y = (x - mean.view(view)) / torch.sqrt(var.view(view) + self.eps)
        if self.affine:
            y = y * self.weight.view(view) + self.bias.view(view)
        return y


def convert_sync_bn(module: nn.Module, device_type: str) -> nn.Module:
    """Every batch norm in module -> a synchronized one, keeping its parameters and buffers."""
    if device_type != "cpu":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    for name, child in module.named_children():
        if type(child) in (nn.BatchNorm1d, nn.BatchNorm2d):
            sync = CPUSyncBatchNorm(child.num_features, child.eps, child.momentum, child.affine,
                                    child.track_running_stats)
            sync.load_state_dict(child.state_dict())
            if child.affine:  # the same Parameter objects, so optimizers built already still step them
                sync.weight, sync.bias = child.weight, child.bias
            setattr(module, name, sync.to(child.running_mean.device if child.running_mean is not None else "cpu"))
        else:
            convert_sync_bn(child, device_type)
    return module
