"""One benchmark cell: a short real training run, timed as `sngan bench` times it (the warm-up window
left out, bookkeeping outside the timing windows). Shared by every `sngan bench` mode."""
from __future__ import annotations

import contextlib
import io
import tempfile

from ...errors import UserError
from ...run.layout import RunFolder
from ...run.logger import read_scalars
from ...run.timing import sec_per_100



def bench_config(arch: str, norm: str, dataset: str, steps: int, warmup: int, batch_size: int, device: str,
                 setting: str, run_dir: str, extra: list[str]):
    """The training config of one bench cell; nothing but the timed steps is logged inside the windows."""
    from ...config import compose_train

    total = warmup + steps
    rare = total + 1  # sigma, samples, checkpoints, 2-D metrics: only at the end, outside the timing
    overrides = [f"arch={arch}", f"norm={norm}", f"dataset={dataset}", f"setting={setting}",
                 f"train.steps={total}", f"train.log_every={warmup}", f"metrics.every.sigma={rare}",
                 f"metrics.every.sigma_normalized={rare}",
                 f"train.sample_every={rare}", f"train.ckpt_every={rare}", "train.keep_ckpts=1",
                 "train.n_samples=4", "train.progress=false", f"batch_size={batch_size}", f"device={device}",
                 "metrics.enabled=false", "metrics.memorization.enabled=false"]  # no metrics per cell (nor Inception
                                                                               # weights or classifier)
    if dataset in ("ring8", "grid25"):
        overrides += [f"metrics.every.modes={rare}", "metrics.modes.num_samples=16"]
    return compose_train(overrides + list(extra), run_dir=run_dir)


def timed_sec_per_100(rows: list[dict], warmup: int) -> float:
    """Length-weighted mean of the timing windows after the warm-up window."""
    value = sec_per_100(rows, after_step=warmup)
    if value is None:
        raise UserError("no timing window after the warm-up: pass --steps >= 1")
    return value


def bench_one(arch, norm, dataset, steps, warmup, batch_size, device, setting, extra):
    """Seconds per 100 G updates of one cell, and the composed config it ran with (optim.n_dis, ...)."""
    from ...train import train

    with tempfile.TemporaryDirectory(prefix="sngan-bench-") as run_dir:
        cfg = bench_config(arch, norm, dataset, steps, warmup, batch_size, device, setting, run_dir, extra)
        with contextlib.redirect_stdout(io.StringIO()):  # each inner run's console lines would bury the table
            train(cfg)
        return timed_sec_per_100(read_scalars(RunFolder(run_dir).scalars), warmup), cfg


def run_cell(row: dict, *bench_args):
    """bench_one(*bench_args) -> (seconds per 100 G updates, config); on failure None, with the
    reason in row['error']: a cell that cannot run (a norm that needs another loss, an option this
    device lacks) becomes a row of the table instead of stopping the benchmark."""
    try:
        return bench_one(*bench_args)
    except Exception as e:
        row["error"] = str(e).splitlines()[0] if str(e) else type(e).__name__
        return None
