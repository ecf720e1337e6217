"""Halt on NaN or inf before an optimizer step applies it, so the weights and the last checkpoint stay good.

Each optimizer step checks the loss and the max-abs of every gradient (torch._foreach_norm with ord=inf:
one fused kernel, no overflow for large finite values, NaN propagates). How the answer is read:
- on the CPU (and wherever the optimizer is not fused) at once: a host read per step costs nothing there;
- on CUDA with fused Adam, on the device: the flag goes to the optimizer as `found_inf`, so the fused kernel
  skips that update, and the first bad step is remembered in a device tensor that the loop reads only at
  log and checkpoint steps (no host sync inside a G update). The halt then names that step; the weights
  never took a non-finite update, and no checkpoint is written after it.
train.check_finite=false turns the check off.
"""
from __future__ import annotations

import math

import torch

from ..errors import NonFiniteError
from ..run.rerun import UNKNOWN_TRAIN, Rerun

WHAT = {1: "D", 2: "G"}


def finite_flag(loss: torch.Tensor, params) -> torch.Tensor:
    """A 0-dim bool tensor on the loss's device: the loss and every gradient of `params` are finite."""
    grads = [p.grad for p in params if p.grad is not None]
    values = [loss.detach().float().reshape(())]
    if grads:
        values += [n.float() for n in torch._foreach_norm(grads, math.inf)]
    return torch.isfinite(torch.stack(values)).all()


def all_finite(loss: torch.Tensor, params) -> bool:
    """True when the loss and every gradient of `params` are finite (one host read)."""
    return bool(finite_flag(loss, params))


def halt_message(what: str, step: int, last_checkpoint: str | None, loss: float | None = None,
                 rerun: Rerun = UNKNOWN_TRAIN) -> str:
    kept = (f"the last good checkpoint {last_checkpoint} is intact" if last_checkpoint else "no checkpoint was written yet")
    value = f" (loss={loss:.4g})" if loss is not None else ""
    # the same command would resume into the same step: retry with a lower lr, or afresh with other values
    retry = f"; continue from it with a lower lr: `{rerun.lower_lr()}`, or start afresh with other values: `{rerun.afresh()}`"
    return (f"non-finite {what} loss or gradient{value} at step {step}: halted before the optimizer applied it; "
            f"{kept}{retry}")


def check_finite(loss: torch.Tensor, params, what: str, step: int, last_checkpoint: str | None,
                 rerun: Rerun = UNKNOWN_TRAIN) -> None:
    """Raise NonFiniteError naming the step and the last good checkpoint when `what` went non-finite."""
    if all_finite(loss, params):
        return
    raise NonFiniteError(halt_message(what, step, last_checkpoint, loss.item(), rerun))


class FiniteGuard:
    """check(loss, params, what, step, optimizer) before each optimizer step; poll(par) where the loop may sync.
    `last_checkpoint` (kept current by the bookkeeping) is the good checkpoint the halt message names."""

    def __init__(self, enabled: bool, deferred: bool, device: torch.device, rerun: Rerun = UNKNOWN_TRAIN):
        self.enabled, self.deferred, self.rerun = enabled, enabled and deferred, rerun
        self.last_checkpoint: str | None = None
        if self.deferred:
            self.first_bad = torch.zeros((), dtype=torch.long, device=device)  # 4 * step + WHAT code; 0: none

    def check(self, loss: torch.Tensor, params, what: str, step: int, optimizer) -> None:
        if not self.enabled:
            return
        if not self.deferred:
            check_finite(loss, params, what, step, self.last_checkpoint, self.rerun)
            return
        bad = ~finite_flag(loss, params)
        optimizer.found_inf = bad.float()  # fused Adam skips the whole update when it is 1
        code = 4 * step + (1 if what == "D" else 2)
        self.first_bad = torch.where(bad & (self.first_bad == 0), torch.full_like(self.first_bad, code), self.first_bad)

    def poll(self, par=None) -> None:
        """Raise NonFiniteError when any step (on any rank) went non-finite since the start (one host read).
        Under torchrun a collective: every rank must call it at the same step (the bookkeeping does)."""
        if not self.deferred:
            return
        first = self.first_bad
        if par is not None and par.active:
            first = par.max_tensor(first)  # every rank halts together, none waits in a collective
        code = int(first.item())
        if code:
            raise NonFiniteError(halt_message(WHAT[code % 4], code // 4, self.last_checkpoint, rerun=self.rerun))
