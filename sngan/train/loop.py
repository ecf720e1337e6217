"""The training loop, read top to bottom: n_dis D steps per G step, then the bookkeeping of that step.

`training_loop` takes everything it uses as explicit arguments (built by train.entry.train from the
config); it never reads the config itself.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from tqdm import tqdm

from ..data import streams
from ..data.images import dequantized, to_float
from ..errors import TrainingInterrupted
from ..gan.ema import sampling_generator, update_ema
from ..gan.generate import Latents
from ..gan.losses import Loss
from ..gan.norms import Norm
from ..metrics import MetricRunner
from ..run import checkpoints as ckpt_io
from ..run.hparams import log_hparams
from ..run.layout import RunFolder
from ..run.logger import RunLogger
from . import resume
from .finite import FiniteGuard
from .options import OptimOptions, Schedule
from .signals import StopRequest


@dataclass
class Start:
    """Where the loop starts: step 0, or a checkpoint's step, data position and RNG states."""

    step: int = 0
    data_position: int = 0
    rng: dict | None = None        # RNG states to restore right before the first step
    last_ckpt: str | None = None   # the newest good checkpoint (named by halt messages)
    best: dict | None = None       # checkpoints/best.pt's record {"metric", "value", "step"}, if any


def training_loop(
    *,
    run: RunFolder,             # the run folder: checkpoints, samples, logs
    logger: RunLogger,          # TensorBoard + scalars.jsonl (a no-op on ranks other than 0)
    G, D,                       # the models (plain modules: state dicts, EMA, samples, sigma reports)
    G_train, D_train,           # the same, wrapped for data-parallel training (or G and D themselves)
    opt_G, opt_D,               # their optimizers
    ema,                        # moving average of G (gan.ema.EMA) or None
    stream,                     # real batches: next() -> (x, y), .position batches consumed
    latents: Latents,           # noise and fake labels of every step, by (step, i)
    loss: Loss,                 # D's and G's losses on logits
    norm: Norm,                 # D's normalization: penalties, after-step hook, real/fake apart
    optim: OptimOptions,        # n_dis (D steps per G step), the lr schedule, G's batch
    batch_size: int,            # global batch of real and of fake images per D step
    schedule: Schedule,         # steps and the intervals of logging, samples and checkpoints
    metrics: MetricRunner,      # registered metrics, each on its schedule
    snapshot,                   # snapshot(G, step): sample grids / scatter plots
    par,                        # train.parallel.Parallel: rank, sharding, collectives
    checkpoint_extra: dict,     # what each checkpoint holds besides the training state (config, fixed_z)
    hparams: dict,              # the run's knobs for TensorBoard's HParams tab at the end
    start: Start,
    device: torch.device,
    console=None,               # train.console.Console: metric lines and the end summary (None: silent)
    rerun: str | None = None,   # the command that resumes this run, for the messages that say so
    dequantize: bool = False,   # real images with uniform noise in each intensity step (dataset.dequantize)
) -> dict:
    """Train until schedule.steps G updates; returns the last logged scalars."""
    stateful = {"G": G, "D": D, "opt_G": opt_G, "opt_D": opt_D}  # each state_dict goes into checkpoints
    step, last_ckpt, t = start.step, start.last_ckpt, schedule
    n_dis, g_batch = optim.n_dis, optim.g_batch_size or batch_size
    # on CUDA with fused Adam, non-finite steps are flagged and skipped on the device, read at log steps
    finite = FiniteGuard(t.check_finite, deferred=device.type == "cuda" and bool(opt_D.defaults.get("fused")),
                         device=device, rerun=rerun)
    d_params = list(D.parameters())

    def state_at(step) -> dict:
        """Everything the loop reads, RNG states included: take it last at a step boundary."""
        finite.poll(last_ckpt, par)  # never checkpoint past a non-finite step
        return {**resume.capture(stateful), "step": step, "data_position": stream.position,
                **checkpoint_extra, "G_ema": ema.module.state_dict() if ema is not None else None}

    def save(step) -> str:
        state = state_at(step)
        path = ckpt_io.save_checkpoint(run.root, state, step, keep=t.keep_ckpts) if par.is_writer \
            else run.checkpoint(step)
        par.barrier()  # no rank exits (torchrun would then kill rank 0) before the file is written
        return path

    best = start.best

    def keep_best(step, measured) -> dict | None:
        """checkpoints/best.pt by the run's primary metric: FID (or FID_<dataset>), lower is better."""
        primary = next((k for k in measured if k.startswith("metrics/FID") and not k.endswith("_std")), None)
        if primary is None or not par.is_writer or (best is not None and not measured[primary] < best["value"]):
            return best
        ckpt_io.save_best(run.root, state_at(step), step, primary, measured[primary])
        return {"metric": primary, "value": float(measured[primary]), "step": int(step)}

    bar = tqdm(total=t.steps, initial=step, disable=not t.progress or not par.is_writer, dynamic_ncols=True,
               desc="G updates")
    last, window_start, window_steps = {}, time.perf_counter(), 0
    stop = StopRequest().install()  # SIGTERM/SIGINT/SIGUSR1/SIGUSR2: checkpoint at the next step boundary
    if step == 0:  # the untrained models' diagnostics (D's spectra at init: the baseline of every later report)
        metrics.at_start(sampling_generator(G, ema), "G_ema" if ema is not None else "G", D, logger, run)
    if start.rng is not None:
        resume.set_rng_states(start.rng)  # last, so nothing above shifts the restored streams
    try:
        while step < t.steps:
            if optim.lr_decay != "none":  # a pure function of the step: resumed runs get the same lrs
                for opt in (opt_G, opt_D):
                    for group in opt.param_groups:
                        group["lr"] = optim.lr_at(step, t.steps)

            # ---- n_dis discriminator steps, each on a fresh real batch ------------------------------
            for i in range(n_dis):
                x, y = stream.next()
                if x.dtype == torch.uint8:  # 2-D points come as floats
                    x = dequantized(x, dequantize_noise(x, latents.seed, step, i)) if dequantize else to_float(x)
                y = y if latents.num_classes else None
                z, yf = latents.noise(batch_size, device, step, i), latents.labels(batch_size, device, step, i)
                z, yf = par.shard(z), par.shard(yf)  # the rows a single process would give this rank
                with torch.no_grad():
                    fake = G(z, yf)
                real_logits, fake_logits = discriminate(D_train, x, fake, y, yf,
                                                         separate=norm.separate_real_fake or optim.d_forward == "separate")
                penalties = norm.penalty(D, x, fake, y, batch_size=batch_size, shard=par.shard,
                                         rng=lambda: streams.generator(latents.seed, streams.GP_MIX, step, i))
                loss_D = loss.d_loss(real_logits, fake_logits) + sum(penalties.values())
                opt_D.zero_grad(set_to_none=True)
                loss_D.backward()  # under DDP this all-reduces D's gradients
                finite.check(loss_D, d_params, "D", step + 1, opt_D, last_ckpt)
                opt_D.step()
                norm.after_d_step(D)

            # ---- one generator step -------------------------------------------------------------------
            z, yf = latents.noise(g_batch, device, step, n_dis), latents.labels(g_batch, device, step, n_dis)
            z, yf = par.shard(z), par.shard(yf)
            D.requires_grad_(False)  # D's weight gradients would be thrown away: do not compute them
            try:
                loss_G = loss.g_loss(D(G_train(z, yf), yf))  # plain D: no DDP sync for D in the G step
            finally:
                D.requires_grad_(True)
            opt_G.zero_grad(set_to_none=True)
            loss_G.backward()
            finite.check(loss_G, G.parameters(), "G", step + 1, opt_G, last_ckpt)
            opt_G.step()
            par.broadcast_buffers(G, D)  # rank 0's BN running statistics everywhere
            step += 1
            update_ema(ema, G, step)
            window_steps += 1
            bar.update(1)

            # ---- bookkeeping (timed apart from training) ----------------------------------------------
            if step % t.log_every == 0 or step == t.steps:
                finite.poll(last_ckpt, par)
                if device.type == "cuda":
                    torch.cuda.synchronize()
                elapsed = time.perf_counter() - window_start
                last = {"loss/D": loss_D.item(), "loss/G": loss_G.item(),
                        "logit/D_real": real_logits.mean().item(), "logit/D_fake": fake_logits.mean().item(),
                        "time/sec_per_100_G_updates": 100.0 * elapsed / window_steps,
                        "optim/lr": optim.lr_at(step, t.steps),
                        **{tag: v.item() for tag, v in penalties.items()}}
                last = par.average_scalars(last)
                logger.scalars(step, last)
                bar.set_postfix({"D": f"{last['loss/D']:.3f}", "G": f"{last['loss/G']:.3f}"})
            paused = time.perf_counter()
            G_sample = sampling_generator(G, ema)
            measured = metrics(step, G_sample, "G_ema" if ema is not None else "G", D, logger, run)
            last = {**last, **{k: v for k, v in measured.items() if k.startswith("metrics/")}}
            best = keep_best(step, measured)
            if console is not None:
                console.metrics(step, measured, metrics.references)
            if par.is_writer and (step % t.sample_every == 0 or step == t.steps):
                snapshot(G_sample, step)
            if step % t.ckpt_every == 0 or step == t.steps:
                last_ckpt = save(step)
            if step % t.log_every == 0:
                window_start, window_steps = time.perf_counter(), 0
            else:
                window_start += time.perf_counter() - paused
            if par.any(stop.requested) and step < t.steps:  # every rank stops at the same step
                if last_ckpt != run.checkpoint(step):
                    last_ckpt = save(step)
                stop.chain_previous()  # e.g. submitit's preemption handler: requeue now the checkpoint exists
                again = f"`{rerun}`" if rerun else "the same command"
                raise TrainingInterrupted(f"stopped by {stop.signal} after step {step}; checkpoint {last_ckpt} "
                                          f"written: rerun {again} to resume")
        if step >= t.steps:  # TB's HParams tab compares finished runs by their final metrics
            log_hparams(logger, hparams, run)
            if console is not None:
                console.end(run.root, step, last, best, metrics.references, last_ckpt is not None)
    finally:
        stop.uninstall()
        bar.close()
        logger.close()
    return last


def dequantize_noise(x: torch.Tensor, seed: int, step: int, i: int) -> torch.Tensor:
    """U(0, 1) of x's shape for D step i of G step `step`, from its own stream (resumable)."""
    g = streams.generator(seed, streams.DEQUANTIZE, step, i)
    return streams.to_device(torch.rand(x.shape, generator=g), x.device)


def discriminate(D, real: torch.Tensor, fake: torch.Tensor, y_real=None, y_fake=None,
                 separate: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """D's logits on real and on fake images: one forward on the concatenation (cheaper), or two apart
    when the norm needs each batch normalized by its own statistics (norm=bn)."""
    if separate:
        return D(real, y_real), D(fake, y_fake)
    logits = D(torch.cat([real, fake]), None if y_real is None else torch.cat([y_real, y_fake]))
    return logits[:len(real)], logits[len(real):]
