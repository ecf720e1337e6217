"""An exponential moving average of G's weights and buffers, for samples and metrics:
ema = decay * ema + (1 - decay) * G after every G step from ema.start on; before that the copy simply
follows G.

The same arithmetic as torch.optim.swa_utils' get_ema_multi_avg_fn (one fused lerp per float group), kept
on G's device and in G's memory format, with the step count on the host: no device-to-host read and no
host-to-device copy per update (AveragedModel keeps its counter in a CPU tensor and copies it every update).
"""
from __future__ import annotations

import copy

import torch
from torch import nn

from .norms.spectral import SpectralNorm


class EMA:
    """The averaged copy of G (`.module`), updated in place."""

    def __init__(self, G: nn.Module, decay: float, start: int):
        self.module = copy.deepcopy(G)
        self.module.requires_grad_(False)
        self.decay, self.start = decay, start
        self.averaging = False  # False: the next update copies G (the average starts there)

    def to_memory_format(self, memory_format: torch.memory_format) -> "EMA":
        self.module.to(memory_format=memory_format)
        return self

    def _pairs(self, G: nn.Module):
        return list(zip([*self.module.parameters(), *self.module.buffers()], [*G.parameters(), *G.buffers()]))

    @torch.no_grad()
    def update(self, G: nn.Module) -> None:
        pairs = self._pairs(G)
        if not self.averaging:
            for mine, theirs in pairs:
                mine.copy_(theirs)
            self.averaging = True
            return
        floats = [(a, b) for a, b in pairs if a.is_floating_point()]
        if floats:
            torch._foreach_lerp_([a for a, _ in floats], [b for _, b in floats], 1 - self.decay)
        for mine, theirs in pairs:
            if not mine.is_floating_point():  # integer buffers (BN's num_batches_tracked), as swa_utils does
                mine.copy_(mine * self.decay + theirs * (1 - self.decay))


def build_ema(G: nn.Module, options) -> EMA | None:
    """The averaged copy of G, or None when not enabled; `options`: sngan.train.options.EMAOptions (checked)."""
    return EMA(G, options.decay, options.start) if options.enabled else None


@torch.no_grad()
def update_ema(ema: EMA | None, G: nn.Module, step: int) -> None:
    """Fold G into the average after G step number `step` (1-based); until ema.start, copy G."""
    if ema is None:
        return
    if step <= ema.start:
        ema.averaging = False  # copy on this update
    ema.update(G)
    # With SN in G the averaged u, v are no unit vectors: renormalize them by one power iteration on
    # the averaged weight, so the frozen (eval-mode) estimate stays a true u^T W v.
    for module in ema.module.modules():
        if hasattr(module, "parametrizations"):
            for chain in module.parametrizations.values():
                for p in chain:
                    if isinstance(p, SpectralNorm):
                        p.iterate(chain.original, 1)


def sampling_generator(G: nn.Module, ema: EMA | None) -> nn.Module:
    """The generator to draw samples from: the average when on, else G."""
    return ema.module if ema is not None else G


def load_ema_state(ema: EMA | None, state) -> None:
    """Restore the average from a checkpoint's 'G_ema' (one without it, possible only with resume_force=true
    after turning EMA on, starts the average from G)."""
    if ema is not None and state is not None:
        ema.module.load_state_dict(state)
        ema.averaging = True  # already averaging: the next update must not copy G over it
