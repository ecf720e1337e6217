"""`sngan bench`: seconds per 100 generator updates per norm and arch on this device (paper Fig. 10).

Each cell is a short real training run (sngan.train.train in a temporary folder) with log_every set to
the warm-up length, so the first timing window holds the warm-up and is left out; the rest are averaged,
weighted by their length. Sigma reports, samples, metrics and checkpoints fall outside the timed windows.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile

from .errors import UserError
from .logger import read_scalars
from .report import TIME_TAG

POINTS_DATASET, IMAGE_DATASET = "ring8", "digits"


def bench_config(arch: str, norm: str, dataset: str, steps: int, warmup: int, batch_size: int, device: str,
                 setting: str, run_dir: str, extra: list[str]):
    """The training config of one bench cell; nothing but the timed steps is logged inside the windows."""
    from hydra import compose, initialize_config_module
    from omegaconf import OmegaConf

    total = warmup + steps
    rare = total + 1  # sigma, samples, checkpoints, 2-D metrics: only at the end, outside the timing
    overrides = [f"arch={arch}", f"norm={norm}", f"dataset={dataset}", f"setting={setting}",
                 f"train.steps={total}", f"train.log_every={warmup}", f"train.sigma_every={rare}",
                 f"train.sample_every={rare}", f"train.ckpt_every={rare}", "train.keep_ckpts=1",
                 "train.n_samples=4", "train.progress=false", f"batch_size={batch_size}", f"device={device}",
                 "metrics.enabled=false"]  # no IS/FID/KID per cell (nor Inception weights or classifier)
    if dataset in ("ring8", "grid25"):
        overrides += [f"dataset.eval_every={rare}", "dataset.eval_samples=16"]
    with initialize_config_module("sngan.conf", version_base="1.3"):
        cfg = compose("train", overrides=overrides + list(extra))
    OmegaConf.set_struct(cfg, False)
    cfg.run_dir = run_dir
    return cfg


def timed_sec_per_100(rows: list[dict], warmup: int) -> float:
    """Length-weighted mean of the timing windows after the warm-up window."""
    points = sorted((r["step"], r["value"]) for r in rows if r["tag"] == TIME_TAG)
    total_steps, total_sec, prev = 0, 0.0, 0
    for step, value in points:
        n = step - prev
        if prev >= warmup and n > 0:
            total_steps += n
            total_sec += value * n / 100.0
        prev = step
    if not total_steps:
        raise UserError("no timing window after the warm-up: pass --steps >= 1")
    return 100.0 * total_sec / total_steps


def bench_one(arch, norm, dataset, steps, warmup, batch_size, device, setting, extra):
    """Seconds per 100 G updates of one cell, and the composed config it ran with (optim.n_dis, ...)."""
    from .train import train

    with tempfile.TemporaryDirectory(prefix="sngan-bench-") as run_dir:
        cfg = bench_config(arch, norm, dataset, steps, warmup, batch_size, device, setting, run_dir, extra)
        train(cfg)
        return timed_sec_per_100(read_scalars(os.path.join(run_dir, "scalars.jsonl")), warmup), cfg


def run_cell(row: dict, *bench_args):
    """bench_one(*bench_args) -> (seconds per 100 G updates, config); on failure None, with the
    reason in row['error']: a cell that cannot run (a norm that needs another loss, an option this
    device lacks) becomes a row of the table instead of stopping the benchmark."""
    try:
        return bench_one(*bench_args)
    except Exception as e:
        row["error"] = str(e).splitlines()[0] if str(e) else type(e).__name__
        return None


def available_norms() -> list[str]:
    """Every norm in sngan.norms.NORMS that has a config preset, none first."""
    from importlib import resources

    from .norms import NORMS

    presets = {p.name[:-5] for p in resources.files("sngan.conf").joinpath("norm").iterdir()
               if p.name.endswith(".yaml")}
    return [n for n in NORMS if n in presets]


def run_bench(archs, norms, dataset, steps, warmup, batch_size, device, setting, extra) -> list[dict]:
    """One row per (arch, norm): sec_per_100 and its ratio to norm=none of the same arch (or an error)."""
    rows = []
    for arch in archs:
        data = dataset or (POINTS_DATASET if arch == "mlp" else IMAGE_DATASET)
        base = None
        for norm in norms:
            row = {"arch": arch, "dataset": data, "norm": norm}
            rows.append(row)
            timed = run_cell(row, arch, norm, data, steps, warmup, batch_size, device, setting, extra)
            if timed is None:
                continue
            row["sec_per_100_G_updates"] = timed[0]
            if norm == "none":
                base = row["sec_per_100_G_updates"]
            row["ratio_to_none"] = row["sec_per_100_G_updates"] / base if base else None
    return rows


def format_table(rows: list[dict]) -> str:
    lines = [f"{'arch':8} {'dataset':8} {'norm':6} {'sec/100 G updates':>18} {'ratio to none':>14}"]
    for r in rows:
        if "error" in r:
            lines.append(f"{r['arch']:8} {r['dataset']:8} {r['norm']:6} failed: {r['error']}")
            continue
        ratio = f"{r['ratio_to_none']:.2f}" if r.get("ratio_to_none") else "n/a"
        lines.append(f"{r['arch']:8} {r['dataset']:8} {r['norm']:6} {r['sec_per_100_G_updates']:18.3f} {ratio:>14}")
    return "\n".join(lines)


def _csv_list(text: str) -> list[str]:
    return [t for t in text.split(",") if t]


def bench(argv: list[str]) -> list[dict]:
    if "--throughput" in argv:  # speed options off/on instead of norms (sngan.throughput)
        from .throughput import throughput

        return throughput([a for a in argv if a != "--throughput"])
    parser = argparse.ArgumentParser(prog="sngan bench", description=__doc__.split("\n")[0])
    parser.add_argument("--arch", default="dcgan,mlp", help="comma-separated archs (default: dcgan,mlp)")
    parser.add_argument("--norm", default=None, help="comma-separated norms (default: every registered norm)")
    parser.add_argument("--dataset", default=None,
                        help=f"dataset for every arch (default: {POINTS_DATASET} for mlp, {IMAGE_DATASET} otherwise)")
    parser.add_argument("--steps", type=int, default=100, help="timed generator updates (default 100)")
    parser.add_argument("--warmup", type=int, default=10, help="untimed generator updates first (default 10)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--setting", default="C", help="paper setting A-F (n_dis, Adam); default C")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--json", default=None, help="also write the rows to this JSON file")
    parser.add_argument("overrides", nargs="*", help="extra training overrides, e.g. loss=hinge z_dim=64")
    args = parser.parse_args(argv)
    if args.steps < 1 or args.warmup < 1:
        raise UserError(f"--steps and --warmup must be >= 1, got {args.steps} and {args.warmup}")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    norms = _csv_list(args.norm) if args.norm else available_norms()
    if "none" in norms:  # the baseline first, so every ratio has its denominator
        norms = ["none"] + [n for n in norms if n != "none"]
    rows = run_bench(_csv_list(args.arch), norms, args.dataset, args.steps, args.warmup, args.batch_size,
                     args.device, args.setting, args.overrides)
    print(format_table(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)
    return rows
