"""One G update: n_dis discriminator steps, each on a fresh real batch, and one generator step, in the order
optim.step_order says:

- d_first (sngan's default, as Mimicry and StudioGAN): the n_dis D steps, then the G step;
- g_first (the authors' updaters: sngan_projection updater.py lines 79-87, chainer-gan-lib stdgan/updater.py lines
  26-33): the G step first, then the n_dis D steps on fakes drawn after it;
- g_first_shared (chainer-gan-lib wgan_gp/updater.py lines 26-41): D step 0 draws its fakes and D's outputs on them
  once; G's step is made from those outputs, and D step 0 then trains on the same fakes (G's update unseen), then
  D steps 1 .. n_dis-1.

`d_step`, `g_step` and `shared_step` are the training step itself, the same for `sngan train`, `sngan bench` and the
overhead measurement (there is no other copy). Everything random comes from the named streams of sngan.data.streams,
keyed by (step, i): D step i's noise is (step, i), the G step's (step, n_dis) (g_first_shared: D step 0's), so a
resumed run draws what an uninterrupted one would, in every order.
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
    order: str = "d_first"      # optim.step_order: d_first, g_first or g_first_shared
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


def _d_update(models: Models, plan: StepPlan, x, y, fake, yf, real_logits, fake_logits, step: int, i: int) -> DStep:
    """D's loss on its logits (plus the norm's penalties), backward, finite check, Adam, the norm's hook."""
    latents, par, B = plan.latents, plan.par, plan.batch_size
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


def _d_inputs(plan: StepPlan, batch, step: int, i: int):
    """(real images, their labels, noise, fake labels) of D step i: the real batch as D's input, this step's draws."""
    x, y = batch
    device = x.device
    x = real_images(x, plan, step, i)
    latents, par, B = plan.latents, plan.par, plan.batch_size
    y = y if latents.num_classes else None
    return x, y, par.shard(latents.noise(B, device, step, i)), par.shard(latents.labels(B, device, step, i))


def d_step(models: Models, plan: StepPlan, batch, step: int, i: int) -> DStep:
    """D step i of G update `step` (0-based) on one real batch: loss, backward, finite check, Adam, the norm's hook."""
    if plan.cuda_graphs:
        torch.compiler.cudagraph_mark_step_begin()
    x, y, z, yf = _d_inputs(plan, batch, step, i)
    with torch.no_grad():
        fake = models.G_run(z, yf)
    real_logits, fake_logits = discriminate(models.D_train, x, fake, y, yf, separate=plan.separate)
    return _d_update(models, plan, x, y, fake, yf, real_logits, fake_logits, step, i)


def _g_update(models: Models, plan: StepPlan, loss_G: torch.Tensor, step: int) -> torch.Tensor:
    models.opt_G.zero_grad(set_to_none=True)
    loss_G.backward()
    plan.finite.check(loss_G, models.G.parameters(), "G", step + 1, models.opt_G)
    models.opt_G.step()
    return loss_G.detach()


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
    return _g_update(models, plan, loss_G, step)


def shared_step(models: Models, plan: StepPlan, batch, step: int) -> tuple[DStep, torch.Tensor]:
    """D step 0 and the G step of g_first_shared (chainer-gan-lib wgan_gp/updater.py): one G forward and one D
    forward on its fakes serve both. G's gradient goes through D's outputs to the fakes and on into G (D's weight
    gradients from it are never formed); then D's loss on the same outputs trains D, the fakes cut from G
    (x_fake.unchain_backward())."""
    if plan.cuda_graphs:
        torch.compiler.cudagraph_mark_step_begin()
    x, y, z, yf = _d_inputs(plan, batch, step, 0)
    fake = models.G_train(z, yf)
    fake_in = fake.detach().requires_grad_(True)  # where G's part of the graph is cut
    real_logits, fake_logits = discriminate(models.D_run, x, fake_in, y, yf, separate=plan.separate)
    loss_G = plan.loss.g_loss(fake_logits)
    (to_fake,) = torch.autograd.grad(loss_G, fake_in, retain_graph=True)
    models.opt_G.zero_grad(set_to_none=True)
    fake.backward(to_fake)
    plan.finite.check(loss_G, models.G.parameters(), "G", step + 1, models.opt_G)
    models.opt_G.step()
    d = _d_update(models, plan, x, y, fake_in.detach(), yf, real_logits, fake_logits, step, 0)
    return d, loss_G.detach()


def train_step(models: Models, plan: StepPlan, stream, step: int) -> tuple[DStep, torch.Tensor]:
    """G update number step + 1: its n_dis D steps, each on a fresh real batch, and its G step, in plan.order;
    returns the last D step's record and G's loss."""
    if plan.order == "g_first_shared":
        d, loss_G = shared_step(models, plan, stream.next(), step)
        for i in range(1, plan.n_dis):
            d = d_step(models, plan, stream.next(), step, i)
        return d, loss_G
    loss_G = g_step(models, plan, step) if plan.order == "g_first" else None
    for i in range(plan.n_dis):
        d = d_step(models, plan, stream.next(), step, i)
    return d, loss_G if loss_G is not None else g_step(models, plan, step)
