"""`sngan sample`: a grid of images from a checkpoint's generator, parametrizations folded."""
from __future__ import annotations

import os

import torch
from omegaconf import OmegaConf
from torchvision.utils import save_image

from .checkpoint import load_checkpoint, resolve_checkpoint
from .config import pick_device
from .errors import ConfigError
from .models import build_generator, num_classes
from .norms import apply_norm_g, fold_parametrizations
from .train import noise, sample_grid


def load_generator(ckpt_path: str, device: torch.device, prefer_ema: bool = True):
    """The checkpoint's generator (its EMA copy when present and preferred), folded, in eval mode."""
    state = load_checkpoint(resolve_checkpoint(ckpt_path), map_location="cpu")
    return generator_from_state(state, device, prefer_ema)


def generator_from_state(state: dict, device: torch.device, prefer_ema: bool = True):
    """load_generator on a checkpoint dict already read: (G folded, in eval mode, training config)."""
    cfg = OmegaConf.create(state["config"])
    G = apply_norm_g(build_generator(cfg), cfg)
    weights = state["G_ema"] if prefer_ema and state.get("G_ema") is not None else state["G"]
    G.load_state_dict(weights)
    G.eval()  # fold with u, v as saved: in training mode reading the weight would iterate once more
    return fold_parametrizations(G).to(device), cfg


def sample(cfg) -> str:
    if int(cfg.n) < 1:
        raise ConfigError(f"n must be >= 1, got {cfg.n}")
    device = pick_device(cfg.device)
    G, train_cfg = load_generator(cfg.ckpt, device, prefer_ema=bool(cfg.ema))
    z = noise(OmegaConf.merge(train_cfg, {"seed": cfg.seed}), int(cfg.n), device, -2)
    k = num_classes(train_cfg)
    y = (torch.arange(int(cfg.n), device=device) % k) if k else None
    out = os.path.abspath(str(cfg.out))
    try:
        os.makedirs(os.path.dirname(out), exist_ok=True)
        save_image(sample_grid(G, z, y), out)
    except OSError as e:
        raise ConfigError(f"cannot write {out} ({e.strerror}): pass out=PATH to a writable place") from None
    print(out)
    return out
