"""The training loop, read top to bottom: n_dis D steps and one G step per G update (train.step), then the step
boundary's bookkeeping (train.bookkeeping). It takes everything it uses as explicit arguments (built by
train.entry.train from the config) and never reads the config itself."""
from __future__ import annotations

from . import resume
from .bookkeeping import Bookkeeper, ResumePoint
from .models import Models
from .options import OptimOptions
from .step import StepPlan, train_step


def training_loop(
    *,
    models: Models,          # G, D, their training wrappers, optimizers and EMA
    plan: StepPlan,          # losses, norm, latents, batch sizes: how one G update is made
    stream,                  # real batches: next() -> (x, y); .position batches consumed
    optim: OptimOptions,     # the lr schedule
    book: Bookkeeper,        # logging, metrics, samples, checkpoints, console, stop signals
    start: ResumePoint,      # step 0, or where a checkpoint left off
    steps: int,              # train until this many G updates
) -> dict:
    """Train until `steps` G updates; returns the last logged scalars."""
    step = start.step
    book.begin(models, step)
    if start.rng is not None:
        resume.set_rng_states(start.rng)  # last, so nothing above shifts the restored streams
    try:
        while step < steps:
            if optim.lr_decay != "none":  # a pure function of the step: resumed runs get the same lrs
                models.set_lr(optim.lr_at(step, steps))
            d, loss_G = train_step(models, plan, stream, step)
            step += 1
            models.after_g_step(step, plan.par)
            book.after_step(step, models, d, loss_G)
        return book.finish(step) if step >= steps else {}
    finally:
        book.close()
