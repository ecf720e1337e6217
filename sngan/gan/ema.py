"""An exponential moving average of G's weights and buffers (torch.optim.swa_utils), for samples and
metrics: ema = decay * ema + (1 - decay) * G after every G step from ema.start on; before that the
copy simply follows G."""
from __future__ import annotations

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from ..errors import ConfigError
from .norms.spectral import SpectralNorm


def build_ema(G: nn.Module, enabled: bool, decay: float = 0.9999, start: int = 0) -> AveragedModel | None:
    """The averaged copy of G, or None when not enabled."""
    if not enabled:
        return None
    decay, start = float(decay), int(start)
    if not 0.0 <= decay < 1.0:
        raise ConfigError(f"ema.decay must lie in [0, 1), got {decay}: e.g. ema.decay=0.9999")
    if start < 0:
        raise ConfigError(f"ema.start must be >= 0, got {start}")
    # use_buffers: BN running statistics are averaged too, so eval-mode samples match averaged weights
    ema = AveragedModel(G, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)
    ema.start = start
    return ema


@torch.no_grad()
def update_ema(ema: AveragedModel | None, G: nn.Module, step: int) -> None:
    """Fold G into the average after G step number `step` (1-based); until ema.start, copy G."""
    if ema is None:
        return
    if step <= ema.start:
        ema.n_averaged.zero_()  # AveragedModel copies on its first update
    ema.update_parameters(G)
    # With SN in G the averaged u, v are no unit vectors: renormalize them by one power iteration on
    # the averaged weight, so the frozen (eval-mode) estimate stays a true u^T W v.
    for module in ema.module.modules():
        if hasattr(module, "parametrizations"):
            for chain in module.parametrizations.values():
                for p in chain:
                    if isinstance(p, SpectralNorm):
                        p._iterate(chain.original, 1)


def sampling_generator(G: nn.Module, ema: AveragedModel | None) -> nn.Module:
    """The generator to draw samples from: the average when on, else G."""
    return ema.module if ema is not None else G


def ema_state(ema: AveragedModel | None):
    """For the checkpoint's 'G_ema': the averaged generator's own state dict (loadable into a plain
    generator built like G), or None."""
    return ema.module.state_dict() if ema is not None else None


def load_ema_state(ema: AveragedModel | None, state) -> None:
    """Restore the average from a checkpoint's 'G_ema' (one without it, possible only with resume_force=true
    after turning EMA on, starts the average from G)."""
    if ema is not None and state is not None:
        ema.module.load_state_dict(state)
        ema.n_averaged.fill_(1)  # already averaging: the next update must not copy G over it
