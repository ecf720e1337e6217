"""One G update: n_dis discriminator steps, each on a fresh real batch, then one generator step.

`d_step` and `g_step` are the training step itself, the same for `sngan train`, `sngan bench` and the overhead
measurement (there is no other copy). Everything random comes from the named streams of sngan.data.streams,
keyed by (step, i), so a resumed run draws what an uninterrupted one would.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ..data import streams
from ..data.images import dequantized, to_float
from ..gan.generate import Latents
from ..gan.losses import Loss
from ..gan.norms import Norm
from .finite import FiniteGuard
from .models import Models


@dataclass
class StepPlan:
    """How a G update is made: losses, D's norm, the latents, batch sizes, and how D sees the data."""

    loss: Loss
    norm: Norm
    latents: Latents
    par: object                 # train.parallel.Parallel: this rank's rows of every global batch
    batch_size: int             # global batch of real and of fake images per D step
    g_batch_size: int           # fakes per G step
    n_dis: int                  # D steps per G step
    separate: bool              # D(real) and D(fake) as two forwards (optim.d_forward=separate, or norm=bn)
    dequantize: bool            # real images with uniform noise in each intensity step
    cuda_graphs: bool           # torch.compile with CUDA graphs: mark each step's start
    finite: FiniteGuard = field(default_factory=lambda: FiniteGuard(False, False, torch.device("cpu")))


@dataclass
class DStep:
    """What one D step leaves for the log (detached; fresh tensors, never CUDA-graph outputs)."""

    loss: torch.Tensor
    real_logit: torch.Tensor    # mean of D's logits on the real batch
    fake_logit: torch.Tensor
    penalties: dict             # log tag -> weighted penalty term


def real_images(x: torch.Tensor, plan: StepPlan, step: int, i: int) -> torch.Tensor:
    """A batch from the stream as D's input: uint8 images -> [-1, 1] floats (dequantized when asked); 2-D points
    pass as they come."""
    if x.dtype != torch.uint8:
        return x
    if not plan.dequantize:
        return to_float(x)
    g = streams.generator(plan.latents.seed, streams.DEQUANTIZE, step, i)
    noise = torch.rand((plan.batch_size, *x.shape[1:]), generator=g)  # the global batch's, then this rank's rows
    return dequantized(x, streams.to_device(plan.par.shard(noise), x.device))


def discriminate(D, real: torch.Tensor, fake: torch.Tensor, y_real=None, y_fake=None,
                 separate: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """D's logits on real and on fake images: one forward on the concatenation (cheaper), or two apart (the
    official updaters' D(real), D(fake); norm=bn needs each batch normalized by its own statistics)."""
    if separate:
        return D(real, y_real), D(fake, y_fake)
    logits = D(torch.cat([real, fake]), None if y_real is None else torch.cat([y_real, y_fake]))
    return logits[:len(real)], logits[len(real):]


def d_step(models: Models, plan: StepPlan, batch, step: int, i: int) -> DStep:
    """D step i of G update `step` (0-based) on one real batch: loss, backward, finite check, Adam, the norm's hook."""
    if plan.cuda_graphs:
        torch.compiler.cudagraph_mark_step_begin()
    x, y = batch
    device = x.device
    x = real_images(x, plan, step, i)
    latents, par, B = plan.latents, plan.par, plan.batch_size
    y = y if latents.num_classes else None
    z, yf = par.shard(latents.noise(B, device, step, i)), par.shard(latents.labels(B, device, step, i))
    with torch.no_grad():
        fake = models.G_run(z, yf)
    real_logits, fake_logits = discriminate(models.D_train, x, fake, y, yf, separate=plan.separate)
    penalties = plan.norm.penalty(models.D, x, fake, y, batch_size=B, shard=par.shard,
                                  rng=lambda: streams.generator(latents.seed, streams.GP_MIX, step, i))
    loss_D = plan.loss.d_loss(real_logits, fake_logits) + sum(penalties.values())
    models.opt_D.zero_grad(set_to_none=True)
    loss_D.backward()  # under DDP this all-reduces D's gradients
    plan.finite.check(loss_D, models.d_params, "D", step + 1, models.opt_D)
    models.opt_D.step()
    plan.norm.after_d_step(models.D)
    return DStep(loss_D.detach(), real_logits.detach().mean(), fake_logits.detach().mean(),
                 {tag: v.detach() for tag, v in penalties.items()})


def g_step(models: Models, plan: StepPlan, step: int) -> torch.Tensor:
    """The G step of G update `step`: D frozen (no weight gradients for it), G's loss, backward, Adam."""
    if plan.cuda_graphs:
        torch.compiler.cudagraph_mark_step_begin()
    device = next(models.G.parameters()).device
    latents, par = plan.latents, plan.par
    z = par.shard(latents.noise(plan.g_batch_size, device, step, plan.n_dis))
    yf = par.shard(latents.labels(plan.g_batch_size, device, step, plan.n_dis))
    models.D.requires_grad_(False)  # D's weight gradients would be thrown away: do not compute them
    try:
        loss_G = plan.loss.g_loss(models.D_run(models.G_train(z, yf), yf))  # not D_train: no DDP sync for D here
    finally:
        models.D.requires_grad_(True)
    models.opt_G.zero_grad(set_to_none=True)
    loss_G.backward()
    plan.finite.check(loss_G, models.G.parameters(), "G", step + 1, models.opt_G)
    models.opt_G.step()
    return loss_G.detach()


def train_step(models: Models, plan: StepPlan, stream, step: int) -> tuple[DStep, torch.Tensor]:
    """G update number step + 1: n_dis D steps on fresh real batches, then the G step; returns the last D step's
    record and G's loss."""
    for i in range(plan.n_dis):
        d = d_step(models, plan, stream.next(), step, i)
    return d, g_step(models, plan, step)
