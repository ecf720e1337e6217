"""Halt on NaN or inf before an optimizer step, so the weights and the last checkpoint stay good.

One check per optimizer step: the max-abs of each gradient (torch._foreach_norm with ord=inf: one
fused kernel, no overflow for large finite values, NaN propagates) stacked with the loss, and a single
host read. On a GPU that read is one sync per step; train.check_finite=false turns the check off.
"""
from __future__ import annotations

import math

import torch

from ..errors import NonFiniteError


def all_finite(loss: torch.Tensor, params) -> bool:
    """True when the loss and every gradient of `params` are finite."""
    grads = [p.grad for p in params if p.grad is not None]
    values = [loss.detach().float().reshape(())]
    if grads:
        values += [n.float() for n in torch._foreach_norm(grads, math.inf)]
    return bool(torch.isfinite(torch.stack(values)).all())


def check_finite(loss: torch.Tensor, params, what: str, step: int, last_checkpoint: str | None) -> None:
    """Raise NonFiniteError naming the step and the last good checkpoint when `what` went non-finite."""
    if all_finite(loss, params):
        return
    kept = (f"the last good checkpoint {last_checkpoint} is intact (rerunning resumes from it)"
            if last_checkpoint else "no checkpoint was written yet")
    raise NonFiniteError(f"non-finite {what} loss or gradient (loss={loss.item():.4g}) at step {step}: halted "
                         f"before the optimizer step; {kept}; lower optim.lr, use a stabler loss or norm, or "
                         f"change seed")
