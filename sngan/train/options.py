"""The training loop's option sets, each a frozen dataclass parsed from its config section (conf/train.yaml
documents every key; the defaults live there only): the schedule (train.*), the optimizer (optim.*) and the
moving average of G (ema.*). Values out of range are one-line ConfigErrors naming the fix."""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError
from ..options import parse

LR_DECAYS = ("none", "linear")
D_FORWARDS = ("joint", "separate")
STEP_ORDERS = ("d_first", "g_first", "g_first_shared")
ADAM_EPS = ("torch", "chainer")


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


@dataclass(frozen=True)
class Schedule:
    """When the loop does what, in G updates (train.*)."""

    steps: int            # G updates to train for
    log_every: int        # losses, D outputs, timing
    sample_every: int     # fixed-noise sample grid
    ckpt_every: int       # full-state checkpoint every this many G updates ...
    ckpt_minutes: float   # ... and at the first step boundary this many minutes after the last one (0: off)
    keep_ckpts: int       # rolling checkpoints kept on disk
    n_samples: int        # images in the fixed-noise grid
    num_workers: int | None  # DataLoader workers for datasets not held in memory (null: one per core, up to 8)
    progress: bool        # tqdm bar
    check_finite: bool    # halt before an optimizer step on a NaN/inf loss or gradient
    class_grids: int      # conditional runs: a grid per class for the first this many classes

    @classmethod
    def parse(cls, node) -> "Schedule":
        s = parse(cls, node, "train")
        _require(s.steps >= 0, f"train.steps must be >= 0, got {s.steps}")
        for key in ("log_every", "sample_every", "ckpt_every", "keep_ckpts", "n_samples"):
            _require(getattr(s, key) >= 1, f"train.{key} must be >= 1, got {getattr(s, key)}")
        _require(s.ckpt_minutes >= 0, f"train.ckpt_minutes must be >= 0 (0: off), got {s.ckpt_minutes}")
        _require(s.num_workers is None or s.num_workers >= 0, f"train.num_workers must be >= 0 or null, got {s.num_workers}")
        _require(s.class_grids >= 0, f"train.class_grids must be >= 0, got {s.class_grids}")
        return s


@dataclass(frozen=True)
class OptimOptions:
    """Adam for G and D, D steps per G step, how D sees real and fake, the lr schedule and G's batch (optim.*)."""

    lr: float
    beta1: float
    beta2: float
    n_dis: int
    lr_decay: str              # none | linear
    decay_start: int           # G updates before the linear decay starts
    g_batch_size: int | None   # fakes per G step; None: the D batch
    d_forward: str             # joint: D on real+fake at once; separate: D(real), then D(fake)
    step_order: str            # d_first | g_first | g_first_shared (train/step.py)
    adam_eps: str              # torch: eps added to the bias-corrected sqrt(v); chainer: to the raw sqrt(v)

    @classmethod
    def parse(cls, node) -> "OptimOptions":
        o = parse(cls, node, "optim")
        _require(o.lr > 0, f"optim.lr must be > 0, got {o.lr}: pass e.g. optim.lr=2e-4 or a setting=A..F")
        _require(0 <= o.beta1 < 1 and 0 <= o.beta2 < 1,
                 f"optim.beta1 and optim.beta2 must lie in [0, 1), got {o.beta1}, {o.beta2}")
        _require(o.n_dis >= 1, f"optim.n_dis must be >= 1, got {o.n_dis}")
        _require(o.lr_decay in LR_DECAYS, f"unknown optim.lr_decay '{o.lr_decay}': choose one of {', '.join(LR_DECAYS)}")
        _require(o.d_forward in D_FORWARDS,
                 f"unknown optim.d_forward '{o.d_forward}': choose one of {', '.join(D_FORWARDS)}")
        _require(o.step_order in STEP_ORDERS,
                 f"unknown optim.step_order '{o.step_order}': choose one of {', '.join(STEP_ORDERS)}")
        _require(o.adam_eps in ADAM_EPS, f"unknown optim.adam_eps '{o.adam_eps}': choose one of {', '.join(ADAM_EPS)}")
        _require(o.step_order != "g_first_shared" or o.g_batch_size is None,
                 f"optim.step_order=g_first_shared makes G's step from D step 0's fakes, so G's batch is the D batch: "
                 f"pass optim.g_batch_size=null, or optim.step_order=g_first")
        _require(o.decay_start >= 0, f"optim.decay_start must be >= 0, got {o.decay_start}")
        _require(o.g_batch_size is None or o.g_batch_size >= 1,
                 f"optim.g_batch_size must be >= 1 or null (= batch_size), got {o.g_batch_size}")
        return o

    def lr_at(self, step: int, total: int) -> float:
        """The lr of G update number step + 1 (0-based `step` updates done): lr until decay_start, then
        falling linearly to 0 at `total` (chainer's LinearShift in sngan_projection's train.py)."""
        if self.lr_decay == "none" or step < self.decay_start or total <= self.decay_start:
            return self.lr
        return self.lr * max(0.0, 1.0 - (step - self.decay_start) / (total - self.decay_start))


@dataclass(frozen=True)
class EMAOptions:
    """The moving average of G (ema.*)."""

    enabled: bool
    decay: float    # ema = decay * ema + (1 - decay) * G after each G step
    start: int      # G steps before averaging begins (until then a copy of G)

    @classmethod
    def parse(cls, node) -> "EMAOptions":
        e = parse(cls, node, "ema")
        _require(0.0 <= e.decay < 1.0, f"ema.decay must lie in [0, 1), got {e.decay}: e.g. ema.decay=0.9999")
        _require(e.start >= 0, f"ema.start must be >= 0, got {e.start}")
        return e
