"""`sngan train`: read the composed config once into typed option sets (`read_config`), check everything that can
fail before any folder is made (`start_checks`), then build the run and hand it to the training loop.

`train(cfg)` is the only reader of the whole config: everything below takes the values it uses.
"""
from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass

import torch
from omegaconf import DictConfig, OmegaConf

from ..build import ModelRecipe, architecture_signature, build_models, model_recipe
from ..data.options import ImageDataset, PointDataset, parse_dataset
from ..device import pick_device, sweep_job_index
from ..errors import ConfigError, DiskError, UserError
from ..fsutil import writing
from ..gan.ema import build_ema, load_ema_state
from ..gan.generate import Latents
from ..gan.losses import Loss, build_loss
from ..metrics import MetricEnv, MetricRunner, plan_metrics
from ..run import identity
from ..run import lock as run_lock
from ..run.layout import CKPT_RE, Created, RunFolder
from ..run.lock import RunLocked
from ..run.rerun import UNKNOWN_TRAIN, Rerun
from ..run.logger import RunLogger
from . import parallel, resume, speed
from .bookkeeping import Bookkeeper, ResumePoint
from .build import build_stream, load_dataset
from .console import Console
from .finite import FiniteGuard
from .loop import training_loop
from .models import Models, build_optimizers
from .options import EMAOptions, OptimOptions, Schedule
from .snapshots import SampleWriter
from .step import StepPlan


@dataclass(frozen=True)
class TrainSetup:
    """Everything `sngan train` reads from its config, parsed and checked."""

    recipe: ModelRecipe           # arch, data shape, D's norm, G's norm, seed (sngan.build)
    loss: Loss
    optim: OptimOptions
    ema: EMAOptions
    schedule: Schedule
    speed: speed.SpeedOptions
    dataset: ImageDataset | PointDataset
    batch_size: int
    device: str                   # auto, cpu, cuda, cuda:N
    resume_from: str | None       # resume=PATH
    resume_force: bool
    run_dir: str
    config: dict                  # the resolved config, as plain containers: the run's record in checkpoints
    metrics_node: DictConfig      # the metrics group, for the registered entries to parse their own options


@dataclass(frozen=True)
class LaunchContext:
    """How this run was started, from the CLI (sngan.launch): the commands that resume it."""

    rerun: Rerun = UNKNOWN_TRAIN    # the exact command that resumes this run in its folder
    sweep_rerun: Rerun | None = None  # for a sweep job: the command that reruns (and resumes) the whole sweep
    sweep: bool = False             # a job of a Hydra multirun: no bars, one start and one end line


class Problems:
    """Start-up problems collected, so one refusal names all of them."""

    def __init__(self):
        self.messages: list[str] = []

    def check(self, make, default=None):
        """make()'s value, or `default` with its UserError's message kept."""
        try:
            return make()
        except UserError as e:
            if str(e) not in self.messages:  # one cause seen by two readers is one problem
                self.messages.append(str(e))
            return default

    def raise_any(self) -> None:
        if len(self.messages) == 1:
            raise ConfigError(self.messages[0])
        if self.messages:
            raise ConfigError(f"{len(self.messages)} problems: " + "; ".join(f"({i}) {m}" for i, m in
                                                                         enumerate(self.messages, 1)))


def _whole(cfg, key: str, minimum: int) -> int:
    value = cfg.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{key} must be a whole number, got {value!r}: pass e.g. {key}=64")
    if value < minimum:
        raise ConfigError(f"{key} must be >= {minimum}, got {value}")
    return value


def read_config(cfg: DictConfig) -> TrainSetup:
    """The TrainSetup of a composed `sngan train` config; every problem found is reported at once."""
    p = Problems()
    recipe = p.check(lambda: model_recipe(cfg))
    loss = p.check(lambda: build_loss(str(cfg.loss.name)))
    optim = p.check(lambda: OptimOptions.parse(cfg.optim))
    ema = p.check(lambda: EMAOptions.parse(cfg.ema))
    schedule = p.check(lambda: Schedule.parse(cfg.train))
    speed_options = p.check(lambda: speed.SpeedOptions.parse(cfg.speed))
    dataset = p.check(lambda: parse_dataset(cfg.dataset))
    batch_size = p.check(lambda: _whole(cfg, "batch_size", 1))
    if recipe is not None and speed_options is not None and speed_options.compile and not recipe.norm.supports_compile:
        p.messages.append(f"norm={recipe.norm.name} differentiates D's input gradient (double backward), which "
                          f"torch.compile does not support: pass speed.compile=false")
    p.raise_any()
    return TrainSetup(recipe, loss, optim, ema, schedule, speed_options, dataset, batch_size, str(cfg.device),
                      None if cfg.get("resume") in (None, "") else str(cfg.resume), bool(cfg.get("resume_force")),
                      str(cfg.run_dir), OmegaConf.to_container(cfg, resolve=True), cfg.metrics)


def train(cfg: DictConfig, context: LaunchContext | None = None) -> dict:
    """Train G and D as cfg says; returns the last logged scalars."""
    return run_training(read_config(cfg), context or LaunchContext(sweep=sweep_job_index() is not None))


def run_training(setup: TrainSetup, context: LaunchContext) -> dict:
    with StartGuard(context.rerun) as guard:
        return _run(setup, context, guard)


def _run(setup: TrainSetup, context: LaunchContext, guard: "StartGuard") -> dict:
    recipe, schedule, optim, shape = setup.recipe, setup.schedule, setup.optim, setup.recipe.shape
    if context.sweep:  # one line per job, no bars from jobs running side by side
        schedule = dataclasses.replace(schedule, progress=False)
    par = parallel.setup(setup.batch_size)  # under torchrun: this rank's share of each batch; rank 0 alone writes
    speed.set_threads(setup.speed.threads)

    # ---- every start-up check, before any folder is made: data first, then what the metrics need ----------
    problems = Problems()
    if optim.g_batch_size:
        problems.check(lambda: par.check_batch(optim.g_batch_size, "optim.g_batch_size"))
    if optim.step_order == "g_first_shared" and par.active:
        problems.messages.append("optim.step_order=g_first_shared runs in one process (its D forward serves two "
                                 "backward passes, which DDP does not sync): pass optim.step_order=g_first, or run "
                                 "without torchrun")
    device = problems.check(lambda: par.device(pick_device(setup.device, None if par.active else sweep_job_index())))
    data = problems.check(lambda: load_dataset(setup.dataset, setup.batch_size))
    env = MetricEnv(setup.dataset, shape, recipe.seed, recipe.norm.name, device or torch.device("cpu"))
    planned = problems.check(lambda: plan_metrics(setup.metrics_node, env), [])  # refuses missing Inception weights
    run = RunFolder(par.shared_run_dir(setup.run_dir))
    if par.is_writer:
        problems.check(run.check_creatable)
    problems.raise_any()
    metrics = MetricRunner(planned, schedule.steps, writer=par.is_writer)

    # ---- models, optimizers -------------------------------------------------------------------------
    models, signatures = assemble_models(setup, device, par, metrics)
    ema = models.ema
    latents = Latents.of(shape, recipe.seed)
    fixed_z = latents.noise(schedule.n_samples, device, -1)
    start = ResumePoint()

    # ---- one writer per run folder: rank 0 holds <run>/lock from here to the end (sngan.run.lock) ----------
    if par.is_writer:
        guard.created = Created.before(run.root)  # a start that fails takes away what it made, the lock file too
        with writing(run.root):
            os.makedirs(run.root, exist_ok=True)
    refusal = guard.take_lock(run.root) if par.is_writer else None
    if par.any_flags([refusal is not None])[0]:
        raise refusal or RunLocked(f"rank 0 could not lock the run folder {run.root} (see its error)")

    # ---- resume: the run folder's newest readable checkpoint, else resume=PATH (see resume.py) -------
    # loaded to the CPU: RNG states must stay CPU tensors; load_state_dict moves weights and optimizer state to
    # their parameters' devices (Adam's step counts stay on the CPU, where the non-fused Adam wants them)
    state, last_ckpt = resume.load_resume_state(run.root, setup.resume_from, map_location="cpu")
    if state is not None:
        resume.check_config(state["config"], setup.config, last_ckpt, force=setup.resume_force)
        resume.check_architecture(state, signatures, last_ckpt)
        resume.restore(state, models.stateful())
        load_ema_state(ema, state.get("G_ema"))
        start = ResumePoint(state["step"], state["data_position"], state["rng"], last_ckpt, resume.read_best(run.root))
        fixed_z = state["fixed_z"].to(device)
        if start.step >= schedule.steps:
            if par.is_writer:
                print(resume.finished_message(run.root, start.step, context.rerun))
            guard.leave_untouched()
            return {}
        if par.is_writer:
            print(f"resumed from {last_ckpt} at step {start.step}")

    # ---- the run folder's record, data, logs ------------------------------------------------------------
    if par.is_writer:
        guard.lock.claim()  # the lock file names this process from now on
        run.create(setup.config if state is None else None)  # the record: written when it starts
        # a killed run may have logged past its last checkpoint (a fresh start: past nothing, step 0 included)
        run.rewind(start.step if state is not None else -1)
    par.barrier()
    stream = build_stream(data, setup.dataset, setup.batch_size, recipe.seed, device, start.data_position, par,
                          schedule.num_workers, setup.speed.data_on_device)
    logger = RunLogger(run, enabled=par.is_writer, purge_step=start.step + 1 if state is not None else 0)
    logger.text("config", "```\n" + json.dumps(setup.config, indent=2) + "\n```")
    console = Console(enabled=par.is_writer, sweep=context.sweep)
    device_label = f"{device} (bf16 autocast)" if setup.speed.bf16_on(device.type) else str(device)
    console.start(run.root, device_label, setup.dataset.name, getattr(getattr(stream, "plan", None), "size", None),
                  None if shape.points else shape.resolution, models.G, models.D, recipe.norm.name,
                  str(setup.config.get("setting_name", "")), setup.loss.name, start.step, schedule.steps)
    samples = SampleWriter(run, logger, latents, fixed_z, device,
                           points_dataset=setup.dataset.name if shape.points else None,
                           points_num=_points_num(setup.metrics_node), class_grid_limit=schedule.class_grids)
    # with fused Adam (the CUDA default) non-finite steps are flagged and skipped on the device, read at bookkeeping
    finite = FiniteGuard(schedule.check_finite, deferred=setup.speed.fused_adam_on(device.type),
                         device=device, rerun=context.rerun)
    plan = step_plan(setup, latents, par, finite)
    book = Bookkeeper(run=run, logger=logger, metrics=metrics, samples=samples, console=console, par=par,
                      schedule=schedule, optim=optim, finite=finite, stream=stream,
                      checkpoint_extra={"fixed_z": fixed_z.cpu(), "config": setup.config, "models": signatures},
                      hparams=identity.hparams(setup.config), start=start, rerun=context.rerun, device=device)
    book.on_first_step = guard.started
    return training_loop(models=models, plan=plan, stream=stream, optim=optim, book=book, start=start,
                         steps=schedule.steps)


def assemble_models(setup: TrainSetup, device: torch.device, par, metrics=None) -> tuple[Models, dict]:
    """G and D built and seeded (sngan.build), their optimizers and EMA, the speed options applied, wrapped for
    data-parallel training; and their architecture signatures (taken before any speed option). `metrics` see the
    plain models first (the sigma report's one eager probe)."""
    shape = setup.recipe.shape
    G, D = build_models(setup.recipe, device)
    signatures = {"G": architecture_signature(G), "D": architecture_signature(D)}
    if metrics is not None:
        metrics.prepare(G, D)
    opt_G, opt_D = build_optimizers(setup.optim, G, D, fused=setup.speed.fused_adam_on(device.type))
    ema = build_ema(G, setup.ema)
    G_run, D_run = speed.apply_speed(setup.speed, G, D, images=not shape.points, world=par.world)  # after the EMA copy
    if ema is not None and setup.speed.channels_last and not shape.points:
        ema.to_memory_format(torch.channels_last)  # the average in G's layout: one fused lerp, no transposes
    return Models(G, D, G_run, D_run, par.wrap(G_run), par.wrap(D_run), opt_G, opt_D, ema), signatures


def step_plan(setup: TrainSetup, latents: Latents, par, finite: FiniteGuard | None = None) -> StepPlan:
    """How one G update is made (train.step), from the setup."""
    optim, norm = setup.optim, setup.recipe.norm
    plan = StepPlan(setup.loss, norm, latents, par, setup.batch_size, optim.g_batch_size or setup.batch_size,
                    optim.n_dis, separate=norm.separate_real_fake or optim.d_forward == "separate",
                    dequantize=getattr(setup.dataset, "dequantize", False), cuda_graphs=setup.speed.cuda_graphs,
                    order=optim.step_order)
    if finite is not None:
        plan.finite = finite
    return plan


def bare_training(setup: TrainSetup, device: torch.device):
    """(models, plan, stream) of a run without bookkeeping: what `sngan bench --overhead` times and `--ops` counts
    (the same modules, data and step as `sngan train`)."""
    par = parallel.Parallel()
    speed.set_cuda_flags(setup.speed, device.type)
    models, _ = assemble_models(setup, device, par)
    data = load_dataset(setup.dataset, setup.batch_size)
    stream = build_stream(data, setup.dataset, setup.batch_size, setup.recipe.seed, device, 0, par, 0,
                          setup.speed.data_on_device)
    return models, step_plan(setup, Latents.of(setup.recipe.shape, setup.recipe.seed), par), stream


class StartGuard:
    """Holds the run folder's lock for the run's life, and until the first G update is done makes a failure take
    away what this start made on disk (`created`) and become a one-line error: whatever raised it (a shape error in
    the first forward, an unreadable file), nothing is left behind and no traceback is shown. The bookkeeping calls
    started() once the first step is done. A disk failure at any time keeps its own line (DiskError), with the
    newest intact checkpoint and the command that resumes from it added."""

    def __init__(self, rerun: Rerun = UNKNOWN_TRAIN):
        self.created, self.done, self.lock, self.run_dir, self.rerun = None, False, None, None, rerun

    def __enter__(self) -> "StartGuard":
        return self

    def take_lock(self, run_dir: str) -> RunLocked | None:
        """Hold run_dir's lock (the refusal, when another process has it: nothing of its folder is then touched)."""
        self.run_dir = run_dir
        try:
            self.lock = run_lock.acquire(run_dir)
        except RunLocked as refusal:
            self.created = None  # the folder is the holder's: never taken away by this start
            return refusal
        return None

    def leave_untouched(self) -> None:
        """A rerun with nothing to do: the lock given back, and a lock file this start made taken away again."""
        self._release()
        if self.created is not None:
            self.created.undo()
            self.created = None

    def started(self) -> None:
        self.done = True

    def _release(self) -> None:
        if self.lock is not None:
            self.lock.release()
            self.lock = None

    def __exit__(self, kind, error, tb):
        self._release()
        if isinstance(error, DiskError) and self.run_dir is not None:
            raise DiskError(f"{error}; {resume_advice(self.run_dir, self.rerun)}") from None
        if error is None or self.done or not isinstance(error, Exception):
            return False
        if self.created is not None:
            self.created.undo()
        if isinstance(error, UserError):
            return False
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise ConfigError(f"cannot start training: {type(error).__name__}: {first[:300]}") from None


def resume_advice(run_dir: str, rerun: Rerun) -> str:
    """Where a stopped run would resume from, and the command that does it."""
    from ..run.layout import list_checkpoints

    found = list_checkpoints(run_dir)
    again = rerun.again()
    if not found:
        return f"no checkpoint yet: then rerun {again} (it starts afresh)"
    step = int(CKPT_RE.search(found[0]).group(1))
    return f"the newest checkpoint {found[0]} (step {step}) is intact: then rerun {again} to resume from it"


def _points_num(metrics_node) -> int:
    """Points in the 2-D scatter plots: as many as the mode metrics draw (metrics.modes.num_samples)."""
    from ..metrics.modes import ModeMetrics

    return ModeMetrics.parse_options(metrics_node).num_samples
