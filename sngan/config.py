"""Checks on a composed config, so bad values fail before any work with a message naming the fix."""
from __future__ import annotations

import os

import torch
from omegaconf import DictConfig, OmegaConf

from .errors import ConfigError


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


def _check_numbers(cfg: DictConfig) -> None:
    """Every numeric key holds a number (a typo such as optim.lr=abc is an error, not a traceback)."""
    keys = ["optim.lr", "optim.beta1", "optim.beta2", "optim.n_dis", "batch_size", "z_dim", "seed"]
    keys += [f"train.{k}" for k in ("steps", "log_every", "sigma_every", "sample_every", "ckpt_every",
                                    "keep_ckpts", "n_samples", "num_workers")]
    keys += [f"norm.{k}" for k in ("power_iters", "scale", "clip", "gp_weight", "ortho_weight") if k in cfg.norm]
    keys += [f"dataset.{k}" for k in ("resolution", "channels") if k in cfg.dataset]
    for key in keys:
        value = OmegaConf.select(cfg, key)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key} must be a number, got {value!r}: pass e.g. {key}=<number>")


def validate(cfg: DictConfig) -> None:
    _check_numbers(cfg)
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
    if cfg.norm.name in ("sn", "bssn"):
        _require(int(cfg.norm.power_iters) >= 1, f"norm.power_iters must be >= 1, got {cfg.norm.power_iters}")
    if cfg.norm.name == "bssn":
        _require(cfg.norm.scale > 0, f"norm.scale must be > 0, got {cfg.norm.scale}")
    if cfg.norm.name == "wc":
        _require(cfg.norm.clip > 0, f"norm.clip must be > 0, got {cfg.norm.clip}")
    if cfg.dataset.get("kind", "images") == "images":  # the 2-D datasets (kind: points) have no resolution
        _require(cfg.dataset.resolution >= 8, f"dataset.resolution must be >= 8, got {cfg.dataset.resolution}")


def sweep_job_index() -> int | None:
    """This job's number inside a Hydra multirun, None outside one."""
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
            return int(HydraConfig.get().job.num)
    except (ImportError, ValueError):
        pass
    return None


def pick_device(name: str, job_index: int | None = None) -> torch.device:
    """'auto' -> cuda when present, else cpu; an explicit cuda request without a GPU is an error.

    In a sweep whose jobs run side by side (hydra/launcher=joblib_local), 'auto' spreads the jobs over
    the visible GPUs: job i gets cuda:(i mod GPU count), so n_jobs = GPU count means one GPU per job."""
    if name == "auto":
        if not torch.cuda.is_available():
            return torch.device("cpu")
        if job_index is not None and torch.cuda.device_count() > 1:
            return torch.device("cuda", job_index % torch.cuda.device_count())
        return torch.device("cuda")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown device '{name}': use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device=cuda but no CUDA GPU is visible: pass device=auto or device=cpu")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ConfigError(f"device={name} but only {torch.cuda.device_count()} GPU(s) are visible: "
                          f"pass device=cuda:0..{torch.cuda.device_count() - 1} or device=auto")
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
