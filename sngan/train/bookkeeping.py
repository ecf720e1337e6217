"""Everything the loop does between G updates besides training: logging, metrics, sample grids, checkpoints and
best.pt, the console, the timing window, and when to stop. One object owns that state, so the loop reads in
one screen.

Under torchrun every rank calls the same methods at the same steps: the collectives (averaged scalars, the
deferred non-finite check, the agreed stop and time flags, the checkpoint barrier) happen on all ranks, and
only the writer (rank 0) measures, draws and writes.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import torch
from tqdm import tqdm

from ..errors import TrainingInterrupted, UserError
from ..run import checkpoints as ckpt_io
from ..run.hparams import log_hparams
from ..run.layout import RunFolder
from ..run.rerun import Rerun
from ..run.logger import RunLogger
from ..run.timing import THREADS_TAG, TIME_TAG
from . import resume
from .finite import FiniteGuard
from .models import Models
from .options import OptimOptions, Schedule
from .signals import StopRequest
from .step import DStep

AGREE_EVERY = 10  # under torchrun, stop signals and checkpoint clocks are agreed every this many G updates


@dataclass
class ResumePoint:
    """Where the loop starts: step 0, or a checkpoint's step, data position and RNG states."""

    step: int = 0
    data_position: int = 0
    rng: dict | None = None        # RNG states to restore right before the first step
    last_ckpt: str | None = None   # the newest good checkpoint (named by halt messages)
    best: dict | None = None       # checkpoints/best.pt's record {"metric", "value", "step"}, if any


class Bookkeeper:
    def __init__(self, *, run: RunFolder, logger: RunLogger, metrics, samples, console, par, schedule: Schedule,
                 optim: OptimOptions, finite: FiniteGuard, stream, checkpoint_extra: dict, hparams: dict,
                 start: ResumePoint, rerun: Rerun, device: torch.device):
        self.run, self.logger, self.metrics, self.samples, self.console = run, logger, metrics, samples, console
        self.par, self.schedule, self.optim, self.finite, self.stream = par, schedule, optim, finite, stream
        self.checkpoint_extra, self.hparams, self.rerun, self.device = checkpoint_extra, hparams, rerun, device
        self.best, self.last_ckpt = start.best, start.last_ckpt
        self.finite.last_checkpoint = start.last_ckpt
        self.last: dict = {}
        self.stop = StopRequest()
        self.bar = tqdm(total=schedule.steps, initial=start.step, disable=not schedule.progress or not par.is_writer,
                        dynamic_ncols=True, desc="G updates")
        self.window_start, self.window_steps = time.perf_counter(), 0
        self.ckpt_clock = time.monotonic()  # the time-based checkpoint counts from the start or the last checkpoint
        self.on_first_step = None  # called once, after the first G update of this start

    # ---- the run's start and end -------------------------------------------------------------------------
    def begin(self, models: Models, step: int) -> None:
        """Install the stop handlers; a fresh run reports its untrained models (D's spectra at init)."""
        self.stop.install()
        if step == 0:
            self.metrics.at_start(models.sampler, models.sampler_name, models.D, self.logger, self.run)

    def finish(self, step: int) -> dict:
        """At the last step: the HParams record and the end summary; returns the last logged scalars."""
        log_hparams(self.logger, self.hparams, self.run)
        if self.console is not None:
            self.console.end(self.run.root, step, self.last, self.best, self.metrics.references,
                             self.last_ckpt is not None, self.rerun)
        return self.last

    def close(self) -> None:
        """Called from the loop's `finally`: when the run is already ending on an error (a full disk, say), a failure
        to flush the logs is part of it and not raised again."""
        failing = sys.exc_info()[0] is not None
        self.stop.uninstall()
        self.bar.close()
        try:
            self.logger.close()
        except UserError:
            if not failing:
                raise

    # ---- one step boundary ---------------------------------------------------------------------------------
    def after_step(self, step: int, models: Models, d: DStep, loss_G: torch.Tensor) -> None:
        """Everything due after G update `step` (1-based): scalars, metrics, best.pt, samples, checkpoint."""
        self.window_steps += 1
        self.bar.update(1)
        if self.on_first_step is not None:  # the start is done: failures from here on are the run's, not the start's
            self.on_first_step()
            self.on_first_step = None
        s = self.schedule
        last_step = step == s.steps
        log_due = step % s.log_every == 0 or last_step
        metrics_due = self.metrics.any_due(step)
        stop, clock_due = self._agreed_flags(step)
        ckpt_due = step % s.ckpt_every == 0 or last_step or clock_due
        if log_due or metrics_due or ckpt_due or stop:
            self.finite.poll(self.par)  # on every rank at once: nothing below is written past a non-finite step
        if log_due:
            self._log(step, d, loss_G)
        paused = time.perf_counter()
        measured = self.metrics(step, models.sampler, models.sampler_name, models.D, self.logger, self.run)
        self.last = {**self.last, **{k: v for k, v in measured.items() if k.startswith("metrics/")}}
        self._keep_best(step, models, measured)
        if self.console is not None:
            self.console.metrics(step, measured, self.metrics.references)
        if self.par.is_writer and (step % s.sample_every == 0 or last_step):
            self.samples(models.sampler, step)
        if ckpt_due:
            self.checkpoint(step, models)
        if step % s.log_every == 0:
            self.window_start, self.window_steps = time.perf_counter(), 0
        else:
            self.window_start += time.perf_counter() - paused  # bookkeeping stays out of the timing window
        if stop and not last_step:
            self._stop(step, models)

    def _log(self, step: int, d: DStep, loss_G: torch.Tensor) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        elapsed = time.perf_counter() - self.window_start
        values = {"loss/D": d.loss.item(), "loss/G": loss_G.item(), "logit/D_real": d.real_logit.item(),
                  "logit/D_fake": d.fake_logit.item(),
                  TIME_TAG: 100.0 * elapsed / max(self.window_steps, 1),
                  "optim/lr": self.optim.lr_at(step, self.schedule.steps),
                  **{tag: v.item() for tag, v in d.penalties.items()}}
        if self.device.type == "cpu":
            values[THREADS_TAG] = float(torch.get_num_threads())  # a CPU clock means little without its threads
        self.last = self.par.average_scalars(values)
        self.logger.scalars(step, self.last)
        self.bar.set_postfix({"D": f"{self.last['loss/D']:.3f}", "G": f"{self.last['loss/G']:.3f}"})

    def _agreed_flags(self, step: int) -> tuple[bool, bool]:
        """(a stop signal arrived, the time-based checkpoint is due), the same on every rank. A single process
        reads its own flags each step; under torchrun rank 0's clock and any rank's signal are agreed every
        AGREE_EVERY G updates (one small collective, not one per step)."""
        minutes = self.schedule.ckpt_minutes
        clock_due = minutes > 0 and time.monotonic() - self.ckpt_clock >= 60.0 * minutes
        if not self.par.active:
            return self.stop.requested, clock_due
        if step % AGREE_EVERY:
            return False, False
        stop, clock_due = self.par.any_flags([self.stop.requested, clock_due and self.par.is_writer])
        return stop, clock_due

    # ---- checkpoints -----------------------------------------------------------------------------------------
    def state_at(self, step: int, models: Models) -> dict:
        """Everything the loop reads, RNG states included: taken last at a step boundary."""
        return {**resume.capture(models.stateful()), "step": step, "data_position": self.stream.position,
                **self.checkpoint_extra, "G_ema": models.ema.module.state_dict() if models.ema is not None else None}

    def checkpoint(self, step: int, models: Models) -> str:
        """A rolling checkpoint at this step (written by rank 0; every rank waits for it)."""
        path = (ckpt_io.save_checkpoint(self.run.root, self.state_at(step, models), step, keep=self.schedule.keep_ckpts)
                if self.par.is_writer else self.run.checkpoint(step))
        self.par.barrier()  # no rank exits (torchrun would then kill rank 0) before the file is written
        self.last_ckpt = self.finite.last_checkpoint = path
        self.ckpt_clock = time.monotonic()
        return path

    def _keep_best(self, step: int, models: Models, measured: dict) -> None:
        """checkpoints/best.pt by the run's primary metric: FID (or FID_<dataset>), lower is better (rank 0)."""
        primary = next((k for k in measured if k.startswith("metrics/FID") and not k.endswith("_std")), None)
        if primary is None or not self.par.is_writer or (self.best is not None and not measured[primary] < self.best["value"]):
            return
        ckpt_io.save_best(self.run.root, self.state_at(step, models), step, primary, measured[primary])
        self.best = {"metric": primary, "value": float(measured[primary]), "step": int(step)}

    def _stop(self, step: int, models: Models) -> None:
        """A stop signal: checkpoint at this step boundary, hand the signal on, exit with EXIT_INTERRUPTED."""
        if self.last_ckpt != self.run.checkpoint(step):
            self.checkpoint(step, models)
        self.stop.chain_previous()  # e.g. submitit's preemption handler: requeue now the checkpoint exists
        raise TrainingInterrupted(f"stopped by {self.stop.signal} after step {step}; checkpoint {self.last_ckpt} "
                                  f"written: rerun {self.rerun.again()} to resume")
