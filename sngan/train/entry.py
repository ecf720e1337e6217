"""`sngan train`: map the composed config onto the training loop's explicit arguments, then run it.

The one place that reads the whole config: everything below takes the values it uses.
"""
from __future__ import annotations

import dataclasses
import json
import os

import torch
from omegaconf import DictConfig

from ..build import architecture_signature, build_models, model_recipe
from ..device import pick_device, sweep_job_index
from ..errors import ConfigError
from ..gan.ema import build_ema, load_ema_state
from ..gan.generate import Latents
from ..gan.losses import build_loss
from ..metrics import MetricRunner
from ..run.hparams import run_hparams
from ..run.layout import RunFolder
from ..run.logger import RunLogger
from . import parallel, resume, speed
from .build import build_optimizers, build_stream
from .console import Console, hydra_overrides, rerun_command
from .loop import Start, training_loop
from .options import OptimOptions, Schedule, plain, validate
from .snapshots import Snapshots


def read_best_or_none(run_dir: str) -> dict | None:
    """best.pt's record, or None (a corrupt best.pt is reported and replaced by the next better evaluation)."""
    from ..run.checkpoints import CheckpointError, read_best

    try:
        return read_best(run_dir)
    except CheckpointError as e:
        print(f"warning: {e}; the next evaluation writes a new best.pt")
        return None


def train(cfg: DictConfig) -> dict:
    """Train G and D as cfg says; returns the last logged scalars."""
    validate(cfg)
    recipe = model_recipe(cfg)
    norm, loss, shape = recipe.norm, build_loss(str(cfg.loss.name)), recipe.shape
    schedule, optim = Schedule.from_config(cfg.train), OptimOptions.from_config(cfg.optim)
    overrides = hydra_overrides()  # under the CLI: the exact command that resumes this run
    command = rerun_command(overrides) if overrides is not None else None
    sweep = sweep_job_index() is not None
    if sweep:  # one line per job, no bars from jobs running side by side
        schedule = dataclasses.replace(schedule, progress=False)
    speed_options = speed.SpeedOptions.from_config(cfg.get("speed"))
    if speed_options.compile and not norm.supports_compile:
        raise ConfigError(f"norm={norm.name} differentiates D's input gradient (double backward), which torch.compile "
                          f"does not support: pass speed.compile=false")
    seed, batch_size = int(cfg.seed), int(cfg.batch_size)
    par = parallel.setup(batch_size)  # under torchrun: this rank's share of each batch; rank 0 alone writes
    if optim.g_batch_size:
        par.check_batch(optim.g_batch_size, "optim.g_batch_size")
    speed.set_threads(speed_options.threads)
    run = RunFolder(par.shared_run_dir(cfg.run_dir, lambda d: RunFolder(d).prepare().root))
    device = par.device(pick_device(cfg.device, None if par.active else sweep_job_index()))
    metrics = MetricRunner(cfg, device, schedule.steps, writer=par.is_writer)  # refuses now if Inception weights are missing

    # ---- models, optimizers -------------------------------------------------------------------------
    G, D = build_models(recipe, device)
    signatures = {"G": architecture_signature(G), "D": architecture_signature(D)}  # before any speed option
    opt_G, opt_D = build_optimizers(optim, G, D, fused=device.type == "cuda" and speed_options.fused_adam)
    e = cfg.get("ema") or {}
    ema = build_ema(G, bool(e.get("enabled", False)), e.get("decay", 0.9999), e.get("start", 0))
    G, D = speed.apply_speed(speed_options, G, D, images=not shape.points, world=par.world)  # after the EMA copy
    if ema is not None and speed_options.channels_last and not shape.points:
        ema.to_memory_format(torch.channels_last)  # the average in G's layout: one fused lerp, no transposes
    G_train, D_train = par.wrap(G), par.wrap(D)  # DistributedDataParallel under torchrun, else G and D
    latents = Latents.of(shape, seed)
    fixed_z = latents.noise(int(cfg.train.n_samples), device, -1)
    start = Start()

    # ---- resume: the run folder's newest readable checkpoint, else resume=PATH (see resume.py) -------
    # loaded to the CPU: RNG states must stay CPU tensors; load_state_dict moves weights and optimizer state to
    # their parameters' devices (Adam's step counts stay on the CPU, where the non-fused Adam wants them)
    state, last_ckpt = resume.load_resume_state(run.root, cfg.get("resume"), map_location="cpu")
    if state is not None:
        resume.check_config(state["config"], plain(cfg), last_ckpt, force=bool(cfg.get("resume_force", False)))
        resume.check_architecture(state, signatures, last_ckpt)
        resume.restore(state, {"G": G, "D": D, "opt_G": opt_G, "opt_D": opt_D})
        load_ema_state(ema, state.get("G_ema"))
        start = Start(state["step"], state["data_position"], state["rng"], last_ckpt, read_best_or_none(run.root))
        fixed_z = state["fixed_z"].to(device)
        if start.step >= schedule.steps:
            if par.is_writer:
                again = (rerun_command([o for o in overrides if not o.startswith(("train.steps=", "name="))])
                         if overrides is not None else "sngan train <same overrides>")
                print(f"sngan train: the run in {run.root} already finished ({start.step} G updates); nothing to do. "
                      f"Extend it: {again} train.steps={2 * max(start.step, 1)}; start afresh: {again} name=NEW_NAME")
            return {}
        if par.is_writer:
            print(f"resumed from {last_ckpt} at step {start.step}")

    # ---- data, logs -----------------------------------------------------------------------------------
    stream = build_stream(cfg.dataset, batch_size, seed, device, start.data_position, par,
                          int(cfg.train.num_workers), speed_options.data_on_device)
    os.makedirs(run.samples, exist_ok=True)
    if par.is_writer:
        run.rewind(start.step)  # a killed run may have logged past its last checkpoint
    logger = RunLogger(run, enabled=par.is_writer, purge_step=start.step + 1)
    logger.text("config", "```\n" + json.dumps(plain(cfg), indent=2) + "\n```")
    console = Console(enabled=par.is_writer, sweep=sweep)
    console.start(run.root, device, str(cfg.dataset.name), getattr(getattr(stream, "plan", None), "size", None),
                  None if shape.points else shape.resolution, G, D, norm.name, str(cfg.get("setting_name", "")),
                  loss.name, start.step, schedule.steps)
    snapshot = Snapshots(run, logger, latents, fixed_z, device,
                         points_dataset=str(cfg.dataset.name) if shape.points else None,
                         points_num=int(cfg.metrics.modes.num_samples), class_grid_limit=int(cfg.train.get("class_grids", 10)))

    return training_loop(
        run=run, logger=logger, G=G, D=D, G_train=G_train, D_train=D_train, opt_G=opt_G, opt_D=opt_D, ema=ema,
        stream=stream, latents=latents, loss=loss, norm=norm, optim=optim, batch_size=batch_size,
        schedule=schedule, metrics=metrics, snapshot=snapshot, par=par,
        checkpoint_extra={"fixed_z": fixed_z.cpu(), "config": plain(cfg), "models": signatures}, hparams=run_hparams(cfg),
        start=start, device=device, console=console, rerun=command, dequantize=bool(cfg.dataset.get("dequantize", False)))
