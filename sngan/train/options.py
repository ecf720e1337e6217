"""The training config, checked and mapped onto the small typed option sets the loop takes.

`validate(cfg)` fails before any work with a one-line message naming the fix; the rest of the loop never
sees the DictConfig, only these values.
"""
from __future__ import annotations

from dataclasses import dataclass

from omegaconf import DictConfig, OmegaConf

from ..errors import ConfigError


@dataclass(frozen=True)
class Schedule:
    """When the loop does what, in G updates (cfg.train)."""

    steps: int           # G updates to train for
    log_every: int       # losses, D outputs, timing
    sample_every: int    # fixed-noise sample grid
    ckpt_every: int      # full-state checkpoint
    keep_ckpts: int      # rolling checkpoints kept on disk
    progress: bool       # tqdm bar
    check_finite: bool   # halt before an optimizer step on a NaN/inf loss or gradient

    @classmethod
    def from_config(cls, t) -> "Schedule":
        return cls(int(t.steps), int(t.log_every), int(t.sample_every), int(t.ckpt_every), int(t.keep_ckpts),
                   bool(t.progress), bool(t.get("check_finite", True)))


LR_DECAYS = ("none", "linear")
D_FORWARDS = ("joint", "separate")


@dataclass(frozen=True)
class OptimOptions:
    """Adam for G and D, D steps per G step, the lr schedule and G's batch (cfg.optim)."""

    lr: float
    beta1: float
    beta2: float
    n_dis: int
    lr_decay: str = "none"        # none | linear
    decay_start: int = 0          # G updates before the linear decay starts
    g_batch_size: int | None = None  # fakes per G step; None: the D batch
    d_forward: str = "joint"      # joint: D on real+fake at once; separate: D(real), then D(fake)

    @classmethod
    def from_config(cls, o) -> "OptimOptions":
        g_batch = o.get("g_batch_size")
        return cls(float(o.lr), float(o.beta1), float(o.beta2), int(o.n_dis), str(o.get("lr_decay", "none")),
                   int(o.get("decay_start", 0)), None if g_batch is None else int(g_batch), str(o.d_forward))

    def lr_at(self, step: int, total: int) -> float:
        """The lr of G update number step + 1 (0-based `step` updates done): lr until decay_start, then
        falling linearly to 0 at `total` (chainer's LinearShift in sngan_projection's train.py)."""
        if self.lr_decay == "none" or step < self.decay_start or total <= self.decay_start:
            return self.lr
        return self.lr * max(0.0, 1.0 - (step - self.decay_start) / (total - self.decay_start))


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


def _check_numbers(cfg: DictConfig) -> None:
    """Every numeric key holds a number (a typo such as optim.lr=abc is an error, not a traceback)."""
    keys = ["optim.lr", "optim.beta1", "optim.beta2", "optim.n_dis", "batch_size", "z_dim", "seed"]
    keys += [k for k in ("optim.decay_start", "optim.g_batch_size") if OmegaConf.select(cfg, k) is not None]
    keys += [f"train.{k}" for k in ("steps", "log_every", "sample_every", "ckpt_every",
                                    "keep_ckpts", "n_samples", "num_workers")]
    keys += [f"norm.{k}" for k in ("power_iters", "scale", "clip", "gp_weight", "ortho_weight") if k in cfg.norm]
    keys += [f"dataset.{k}" for k in ("resolution", "channels") if k in cfg.dataset]
    keys += [f"metrics.every.{k}" for k in cfg.metrics.get("every", {})]
    for key in keys:
        value = OmegaConf.select(cfg, key)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key} must be a number, got {value!r}: pass e.g. {key}=<number>")


def validate(cfg: DictConfig) -> None:
    """The keys every run reads; each registry entry (norm, metric) checks its own when built."""
    _check_numbers(cfg)
    o, t = cfg.optim, cfg.train
    _require(o.lr > 0, f"optim.lr must be > 0, got {o.lr}: pass e.g. optim.lr=2e-4 or a setting=A..F")
    _require(0 <= o.beta1 < 1 and 0 <= o.beta2 < 1,
             f"optim.beta1 and optim.beta2 must lie in [0, 1), got {o.beta1}, {o.beta2}")
    _require(int(o.n_dis) >= 1, f"optim.n_dis must be >= 1, got {o.n_dis}")
    _require(str(o.get("lr_decay", "none")) in LR_DECAYS,
             f"unknown optim.lr_decay '{o.get('lr_decay')}': choose one of {', '.join(LR_DECAYS)}")
    _require(str(o.get("d_forward")) in D_FORWARDS,
             f"unknown optim.d_forward '{o.get('d_forward')}': choose one of {', '.join(D_FORWARDS)}")
    _require(int(o.get("decay_start", 0)) >= 0, f"optim.decay_start must be >= 0, got {o.get('decay_start')}")
    _require(o.get("g_batch_size") is None or int(o.g_batch_size) >= 1,
             f"optim.g_batch_size must be >= 1 or null (= batch_size), got {o.get('g_batch_size')}")
    _require(int(cfg.batch_size) >= 1, f"batch_size must be >= 1, got {cfg.batch_size}")
    _require(int(cfg.z_dim) >= 1, f"z_dim must be >= 1, got {cfg.z_dim}")
    _require(int(t.steps) >= 0, f"train.steps must be >= 0, got {t.steps}")
    for key in ("log_every", "sample_every", "ckpt_every", "keep_ckpts", "n_samples"):
        _require(int(t[key]) >= 1, f"train.{key} must be >= 1, got {t[key]}")
    _require(int(t.num_workers) >= 0, f"train.num_workers must be >= 0, got {t.num_workers}")
    for name, every in cfg.metrics.get("every", {}).items():
        _require(int(every) >= 1, f"metrics.every.{name} must be >= 1, got {every}")
    if cfg.dataset.get("kind", "images") == "images":  # the 2-D datasets (kind: points) have no resolution
        _require(cfg.dataset.resolution >= 8, f"dataset.resolution must be >= 8, got {cfg.dataset.resolution}")


def plain(cfg: DictConfig) -> dict:
    """The config as plain containers (safe inside a weights_only checkpoint)."""
    return OmegaConf.to_container(cfg, resolve=True)
