"""The training loop, read top to bottom: build, resume, then n_dis D steps per G step."""
from __future__ import annotations

import json
import os
import time

import torch
from omegaconf import DictConfig
from torchvision.utils import make_grid, save_image
from tqdm import tqdm

from . import checkpoint as ckpt_io
from . import distributed, speed
from . import toy2d
from .hparams import log_hparams
from .class_grids import write_class_grids
from .config import pick_device, plain, prepare_run_dir, sweep_job_index, validate
from .data import BatchStream, _generator, load_images, to_float
from .errors import TrainingInterrupted
from .finite import check_finite
from . import resume
from .signals import StopRequest
from .ema import build_ema, ema_state, load_ema_state, sampling_generator, update_ema
from .feature_norm import discriminate
from .lipschitz import lipschitz_bounds, watch_input_sizes
from .logger import RunLogger
from .metrics import build_metric_hook
from .penalties import d_penalties
from .losses import d_loss, g_loss
from .models import build_discriminator, build_generator, num_classes
from .norms import apply_norm, apply_norm_g, clip_weights, raw_weight, sigma_estimates, singular_values_of, weighted_layers
from .spectral import exact_sigma


def build_models(cfg: DictConfig, device: torch.device):
    """G and D with D's normalization applied; seeded so init and SN's u vectors repeat."""
    torch.manual_seed(cfg.seed)
    G = apply_norm_g(build_generator(cfg), cfg).to(device)
    D = watch_input_sizes(apply_norm(build_discriminator(cfg), cfg.norm).to(device))
    return G, D


def build_optimizers(cfg: DictConfig, G, D):
    betas = (cfg.optim.beta1, cfg.optim.beta2)
    return (torch.optim.Adam(G.parameters(), lr=cfg.optim.lr, betas=betas),
            torch.optim.Adam(D.parameters(), lr=cfg.optim.lr, betas=betas))


def noise(cfg, n: int, device, *keys: int) -> torch.Tensor:
    """Latents for one step: a pure function of (seed, keys), so resumed runs draw the same."""
    return torch.randn(n, cfg.z_dim, generator=_generator(cfg.seed, 3, *keys)).to(device)


def fake_labels(cfg, n: int, device, *keys: int):
    k = num_classes(cfg)
    return torch.randint(k, (n,), generator=_generator(cfg.seed, 4, *keys)).to(device) if k else None


def sigma_report(D) -> tuple[dict[str, float], dict[str, torch.Tensor]]:
    """Per D layer: SN's power-iteration estimate, the exact sigma of the trained weight and of the
    weight the layer computes with, and that weight's singular-value spectrum."""
    scalars, spectra = {}, {}
    for layer, est in sigma_estimates(D).items():
        scalars[f"sigma/D/{layer}"] = est
    for layer, module in weighted_layers(D).items():
        scalars[f"sigma_exact/D/{layer}"] = exact_sigma(raw_weight(module))
        spectra[layer] = singular_values_of(module)
        scalars[f"sigma_normalized/D/{layer}"] = spectra[layer][0].item()
    scalars.update({f"lipschitz/D/{layer}": v for layer, v in lipschitz_bounds(D).items()})
    return scalars, spectra


@torch.no_grad()
def sample_grid(G, z, y=None) -> torch.Tensor:
    """A grid of G(z) in [0, 1], with G in eval mode (BN running statistics)."""
    was_training = G.training
    G.eval()
    images = G(z, y)
    G.train(was_training)
    return make_grid(images.float().add(1).div(2).clamp(0, 1), nrow=int(len(z) ** 0.5), padding=1)


def train(cfg: DictConfig) -> dict:
    """Train G and D as cfg says; returns the last logged scalars."""
    validate(cfg)
    par = distributed.setup(cfg)  # under torchrun: this rank's share of each batch; rank 0 alone writes
    speed.set_threads(cfg)
    run_dir = par.shared_run_dir(cfg.run_dir, prepare_run_dir)
    device = par.device(pick_device(cfg.device, None if par.active else sweep_job_index()))
    t = cfg.train
    metrics_hook = build_metric_hook(cfg, run_dir, device)  # refuses now if Inception weights are missing

    # ---- models, optimizers, data -----------------------------------------------------------
    G, D = build_models(cfg, device)
    opt_G, opt_D = build_optimizers(cfg, G, D)
    ema = build_ema(G, cfg)
    G, D = speed.apply_speed(cfg, G, D, world=par.world)  # after the EMA copy: bf16, compile, ...
    G_ddp, D_ddp = par.wrap(G), par.wrap(D)  # DistributedDataParallel under torchrun, else G and D
    fixed_z = noise(cfg, t.n_samples, device, -1)
    fixed_y = (torch.arange(t.n_samples, device=device) % num_classes(cfg)) if num_classes(cfg) else None
    step, data_position = 0, 0

    # ---- resume: the run folder's newest readable checkpoint, else resume=PATH (see resume.py) ----
    stateful = {"G": G, "D": D, "opt_G": opt_G, "opt_D": opt_D}  # each state_dict goes into checkpoints
    state, last_ckpt = resume.load_resume_state(cfg, run_dir, map_location=device)
    if state is not None:
        resume.check_config(state["config"], plain(cfg), last_ckpt, force=bool(cfg.get("resume_force", False)))
        resume.restore(state, stateful)
        load_ema_state(ema, state.get("G_ema"))
        step, data_position, fixed_z = state["step"], state["data_position"], state["fixed_z"].to(device)
        print(f"resumed from {last_ckpt} at step {step}")
        if step >= t.steps:
            print(f"run in {run_dir} already finished ({step} steps); nothing to do")
            return {}

    points = toy2d.is_points(cfg.dataset)  # 2-D mixture benchmark: points instead of images
    if points:
        stream = par.shard_stream(toy2d.PointStream(cfg.dataset, cfg.batch_size, cfg.seed, device, start=data_position))
    else:
        dataset = load_images(cfg.dataset)
        stream = BatchStream(dataset, cfg.batch_size, cfg.seed, bool(cfg.dataset.hflip), device,
                             num_workers=t.num_workers, start=data_position, rank=par.rank, world=par.world,
                             on_device=bool(speed.option(cfg, "data_on_device", True)),
                             in_memory=bool(cfg.dataset.get("in_memory", True)))
    os.makedirs(os.path.join(run_dir, "samples"), exist_ok=True)
    if par.is_writer:
        resume.rewind_logs(run_dir, step)  # a killed run may have logged past its last checkpoint
    logger = RunLogger(run_dir, enabled=par.is_writer, purge_step=step + 1)
    logger.text("config", "```\n" + json.dumps(plain(cfg), indent=2) + "\n```")
    loss_name, n_dis, B = cfg.loss.name, int(cfg.optim.n_dis), int(cfg.batch_size)
    clip = float(cfg.norm.clip) if cfg.norm.name == "wc" else None

    def save(step) -> str:
        """Everything the loop reads, RNG states included: keep it the last thing at a step boundary."""
        state = {**resume.capture(stateful), "step": step, "data_position": stream.position,
                 "fixed_z": fixed_z.cpu(), "config": plain(cfg), "G_ema": ema_state(ema)}
        path = ckpt_io.save_checkpoint(run_dir, state, step, keep=t.keep_ckpts) if par.is_writer \
            else ckpt_io.checkpoint_path(run_dir, step)
        par.barrier()  # no rank exits (torchrun would then kill rank 0) before the file is written
        return path

    def snapshot(step):
        if not par.is_writer:
            return
        if points:
            return toy2d.snapshot(sampling_generator(G, ema), cfg, device, logger, run_dir, step)
        grid = sample_grid(sampling_generator(G, ema), fixed_z, fixed_y)
        save_image(grid, os.path.join(run_dir, "samples", f"step_{step:09d}.png"))
        logger.image(step, "samples/fixed_z", grid)
        write_class_grids(cfg, sampling_generator(G, ema), fixed_z, run_dir, step, logger)

    # ---- the loop ---------------------------------------------------------------------------
    bar = tqdm(total=t.steps, initial=step, disable=not t.progress or not par.is_writer, dynamic_ncols=True, desc="G updates")
    last, window_start, window_steps = {}, time.perf_counter(), 0
    check = bool(t.get("check_finite", True))
    stop = StopRequest().install()  # SIGTERM/SIGINT/SIGUSR1/SIGUSR2: checkpoint at the next step boundary
    if state is not None:
        resume.set_rng_states(state["rng"])  # last, so nothing above shifts the restored streams
    try:
        while step < t.steps:
            # n_dis discriminator steps, each on a fresh real batch
            for i in range(n_dis):
                x, y = stream.next()
                x = to_float(x) if x.dtype == torch.uint8 else x  # 2-D points come as floats
                y = y if num_classes(cfg) else None
                z, yf = noise(cfg, B, device, step, i), fake_labels(cfg, B, device, step, i)
                z, yf = par.shard(z), par.shard(yf)  # the rows a single process would give this rank
                with torch.no_grad():
                    fake = G(z, yf)
                real_logits, fake_logits = discriminate(D_ddp, x, fake, y, yf, separate=cfg.norm.name == "bn")
                penalties = d_penalties(cfg, D, x, fake, y, step, i, shard=par.shard)  # norm=gp, ortho
                loss_D = d_loss(loss_name, real_logits, fake_logits) + sum(penalties.values())
                opt_D.zero_grad(set_to_none=True)
                loss_D.backward()  # under DDP this all-reduces D's gradients
                if check:
                    check_finite(loss_D, D.parameters(), "D", step + 1, last_ckpt)
                opt_D.step()
                if clip is not None:
                    clip_weights(D, clip)

            # one generator step
            z, yf = noise(cfg, B, device, step, n_dis), fake_labels(cfg, B, device, step, n_dis)
            z, yf = par.shard(z), par.shard(yf)
            loss_G = g_loss(loss_name, D(G_ddp(z, yf), yf))  # plain D: its grads here are never stepped
            opt_G.zero_grad(set_to_none=True)
            loss_G.backward()
            if check:
                check_finite(loss_G, G.parameters(), "G", step + 1, last_ckpt)
            opt_G.step()
            par.broadcast_buffers(G, D)  # rank 0's BN running statistics everywhere
            step += 1
            update_ema(ema, G, step)
            window_steps += 1
            bar.update(1)

            # ---- bookkeeping (timed apart from training) ------------------------------------
            if step % t.log_every == 0 or step == t.steps:
                if device.type == "cuda":
                    torch.cuda.synchronize()
                elapsed = time.perf_counter() - window_start
                last = {"loss/D": loss_D.item(), "loss/G": loss_G.item(),
                        "logit/D_real": real_logits.mean().item(), "logit/D_fake": fake_logits.mean().item(),
                        "time/sec_per_100_G_updates": 100.0 * elapsed / window_steps,
                        **{tag: v.item() for tag, v in penalties.items()}}
                last = par.average_scalars(last)
                logger.scalars(step, last)
                bar.set_postfix({"D": f"{last['loss/D']:.3f}", "G": f"{last['loss/G']:.3f}"})
            paused = time.perf_counter()
            if par.is_writer and (step % t.sigma_every == 0 or step == t.steps):
                scalars, spectra = sigma_report(D)
                logger.scalars(step, scalars)
                for layer, sv in spectra.items():
                    logger.histogram(step, f"spectrum/D/{layer}", sv)
                with open(os.path.join(run_dir, "spectra.jsonl"), "a") as f:
                    f.write(json.dumps({"step": step, "norm": cfg.norm.name,
                                        "spectra": {k: v.tolist() for k, v in spectra.items()}}) + "\n")
            if points and (step % cfg.dataset.eval_every == 0 or step == t.steps):
                last = {**last, **toy2d.evaluate(sampling_generator(G, ema), cfg, device)}
                logger.scalars(step, {k: v for k, v in last.items() if k.startswith("metrics/")})
            metric_values = metrics_hook(sampling_generator(G, ema), step, logger, "G_ema" if ema is not None else "G")
            logger.scalars(step, metric_values)  # IS/FID/KID every metrics.every steps; protocol in metrics.jsonl
            last = {**last, **metric_values}
            if step % t.sample_every == 0 or step == t.steps:
                snapshot(step)
            if step % t.ckpt_every == 0 or step == t.steps:
                last_ckpt = save(step)
            if step % t.log_every == 0:
                window_start, window_steps = time.perf_counter(), 0
            else:
                window_start += time.perf_counter() - paused
            if par.any(stop.requested) and step < t.steps:  # every rank stops at the same step
                if last_ckpt != ckpt_io.checkpoint_path(run_dir, step):
                    last_ckpt = save(step)
                stop.chain_previous()  # e.g. submitit's preemption handler: requeue now the checkpoint exists
                raise TrainingInterrupted(f"stopped by {stop.signal} after step {step}; checkpoint {last_ckpt} "
                                          f"written: rerun the same command to resume")
        if step >= t.steps:  # TB's HParams tab compares finished runs by their final metrics
            log_hparams(logger, cfg, run_dir)
    finally:
        stop.uninstall()
        bar.close()
        logger.close()
    return last
