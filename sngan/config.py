"""Checks on a composed config, so bad values fail before any work with a message naming the fix."""
from __future__ import annotations

import os

import torch
from omegaconf import DictConfig, OmegaConf

from .errors import ConfigError


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


def validate(cfg: DictConfig) -> None:
    o, t = cfg.optim, cfg.train
    _require(o.lr > 0, f"optim.lr must be > 0, got {o.lr}: pass e.g. optim.lr=2e-4 or a setting=A..F")
    _require(0 <= o.beta1 < 1 and 0 <= o.beta2 < 1,
             f"optim.beta1 and optim.beta2 must lie in [0, 1), got {o.beta1}, {o.beta2}")
    _require(int(o.n_dis) >= 1, f"optim.n_dis must be >= 1, got {o.n_dis}")
    _require(int(cfg.batch_size) >= 1, f"batch_size must be >= 1, got {cfg.batch_size}")
    _require(int(cfg.z_dim) >= 1, f"z_dim must be >= 1, got {cfg.z_dim}")
    _require(int(t.steps) >= 0, f"train.steps must be >= 0, got {t.steps}")
    for key in ("log_every", "sigma_every", "sample_every", "ckpt_every", "keep_ckpts", "n_samples"):
        _require(int(t[key]) >= 1, f"train.{key} must be >= 1, got {t[key]}")
    _require(int(t.num_workers) >= 0, f"train.num_workers must be >= 0, got {t.num_workers}")
    if cfg.norm.name == "sn":
        _require(int(cfg.norm.power_iters) >= 1, f"norm.power_iters must be >= 1, got {cfg.norm.power_iters}")
    if cfg.norm.name == "wc":
        _require(cfg.norm.clip > 0, f"norm.clip must be > 0, got {cfg.norm.clip}")
    if cfg.dataset.get("kind", "images") == "images":  # the 2-D datasets (kind: points) have no resolution
        _require(cfg.dataset.resolution >= 8, f"dataset.resolution must be >= 8, got {cfg.dataset.resolution}")


def pick_device(name: str) -> torch.device:
    """'auto' -> cuda when present, else cpu; an explicit cuda request without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown device '{name}': use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device=cuda but no CUDA GPU is visible: pass device=auto or device=cpu")
    return device


def prepare_run_dir(run_dir: str) -> str:
    """Create the run folder and check it is writable."""
    try:
        os.makedirs(run_dir, exist_ok=True)
        probe = os.path.join(run_dir, ".write_test")
        with open(probe, "w") as f:
            f.write("ok")
        os.remove(probe)
    except OSError as e:
        raise ConfigError(f"cannot write the run folder {run_dir} ({e.strerror}): pass hydra.run.dir=PATH "
                          f"to a writable folder") from None
    return run_dir


def plain(cfg: DictConfig) -> dict:
    """The config as plain containers (safe inside a weights_only checkpoint)."""
    return OmegaConf.to_container(cfg, resolve=True)
