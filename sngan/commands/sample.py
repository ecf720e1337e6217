"""`sngan sample`: a grid of images from a checkpoint's generator, parametrizations folded."""
from __future__ import annotations

import os

import torch
from torchvision.utils import save_image

from ..device import pick_device
from ..errors import ConfigError
from ..gan.archs import model_shape
from ..gan.generate import Latents, generator_from_state, sample_grid
from ..run.checkpoints import load_checkpoint, resolve_checkpoint


def load_generator(ckpt_path: str, device: torch.device, prefer_ema: bool = True):
    """The checkpoint's generator (its EMA copy when present and preferred), folded, in eval mode."""
    state = load_checkpoint(resolve_checkpoint(ckpt_path), map_location="cpu")
    return generator_from_state(state, device, prefer_ema)


def sample(cfg) -> str:
    if int(cfg.n) < 1:
        raise ConfigError(f"n must be >= 1, got {cfg.n}")
    device = pick_device(cfg.device)
    G, train_cfg = load_generator(cfg.ckpt, device, prefer_ema=bool(cfg.ema))
    shape = model_shape(train_cfg)
    latents = Latents(int(cfg.seed), shape.z_dim, shape.num_classes)
    z = latents.noise(int(cfg.n), device, -2)
    y = latents.grid_labels(int(cfg.n), device)
    out = os.path.abspath(str(cfg.out))
    try:
        os.makedirs(os.path.dirname(out), exist_ok=True)
        save_image(sample_grid(G, z, y), out)
    except OSError as e:
        raise ConfigError(f"cannot write {out} ({e.strerror}): pass out=PATH to a writable place") from None
    print(out)
    return out
