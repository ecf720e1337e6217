"""Which device a command runs on: cpu, cuda, cuda:N, or auto (spread over GPUs in a sweep)."""
from __future__ import annotations

import torch

from .errors import ConfigError


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
