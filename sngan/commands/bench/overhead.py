"""`sngan bench --overhead`: what the trainer and SN cost on this device, as ratios measured side by side.

- trainer / bare loop: seconds per 100 G updates of `sngan train` (timing windows as `sngan bench`) over a
  bare loop of the same modules, data and losses with nothing else (no finite check, no EMA, no logging);
- SN / no norm: one D step (forward on real+fake, backward, Adam) of the paper's ResNet D at 32 px, batch 64.
Each pair runs interleaved `--repeats` times, its order reversed every other repeat, and the fastest of each is
kept (noise on shared machines only ever adds time); the JSON keeps every repeat and its order.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time

import torch

from ...errors import UserError
from .cells import bench_config, bench_one
from .jobs import cell_overrides, dataset_overrides


def bare_loop_sec_per_100(cfg, steps: int, warmup: int) -> float:
    """The training step (train.step.train_step: the same D and G steps as `sngan train`) with nothing around it:
    no finite check, no EMA, no logging, on the modules and data the trainer would build."""
    from ...device import pick_device
    from ...train.entry import bare_training, read_config
    from ...train.step import train_step

    device = pick_device(cfg.device)
    models, plan, stream = bare_training(read_config(cfg), device)
    start = None
    for step in range(warmup + steps):
        if step == warmup:
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
        train_step(models, plan, stream, step)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return 100.0 * (time.perf_counter() - start) / steps


def d_step_seconds(norm_name: str, device: str, batch_size: int, steps: int, warmup: int) -> float:
    """Seconds per D step of the paper's CIFAR-10 ResNet D (32 px) with norm_name."""
    from ...build import build_models, model_recipe
    from ...device import pick_device

    with tempfile.TemporaryDirectory() as d:
        cfg = bench_config("resnet", norm_name, "digits", 1, 1, batch_size, device, "resnet", d,
                           ["dataset.resolution=32", "dataset.channels=3"])
    from ...train.speed import SpeedOptions, apply_speed

    dev = pick_device(cfg.device)
    G, D = build_models(model_recipe(cfg), dev)
    apply_speed(SpeedOptions.parse(cfg.speed), G, D)  # the CUDA defaults (TF32, cuDNN autotuning, grouped SN)
    opt = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.0, 0.9))
    x = torch.randn(2 * batch_size, 3, 32, 32, device=dev)
    for i in range(warmup + steps):
        if i == warmup:
            if dev.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        D(x).mean().backward()
        opt.step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps


def overhead(argv: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="sngan bench --overhead", description=__doc__.split("\n")[0])
    parser.add_argument("--arch", default="dcgan")
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--setting", default="C")
    parser.add_argument("--steps", type=int, default=50, help="timed G updates per run (default 50)")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--d-steps", type=int, default=10, help="timed D steps of the ResNet D pair (default 10)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--json", default=None)
    parser.add_argument("overrides", nargs="*", help="extra training overrides, e.g. arch.g_ch=16")
    args = parser.parse_args(argv)
    if min(args.steps, args.warmup, args.repeats, args.d_steps) < 1:
        raise UserError("--steps, --warmup, --d-steps and --repeats must be >= 1")
    trainer, bare, sn, none = [], [], [], []
    with tempfile.TemporaryDirectory(prefix="sngan-overhead-") as tmp:
        # the paper's job for this arch and dataset where it has one, on its files (synthetic when absent)
        data_args, source = dataset_overrides(args.dataset, tmp)
        paper_job = cell_overrides(args.arch, args.dataset)
        extra = paper_job + data_args + list(args.overrides)
        def time_bare():
            with tempfile.TemporaryDirectory() as d:
                cfg = bench_config(args.arch, "sn", args.dataset, args.steps, args.warmup, args.batch_size,
                                   args.device, args.setting, d, extra)
                bare.append(bare_loop_sec_per_100(cfg, args.steps, args.warmup))

        def time_trainer():
            trainer.append(bench_one(args.arch, "sn", args.dataset, args.steps, args.warmup, args.batch_size,
                                     args.device, args.setting, extra)[0])

        def time_d_step(norm, into):
            return lambda: into.append(d_step_seconds(norm, args.device, args.batch_size, args.d_steps, 2))

        orders = []
        for repeat in range(args.repeats):
            # each pair in both orders, alternating: whichever runs second (warmer caches, a busier machine) is not
            # always the same member
            pairs = [[("bare", time_bare), ("trainer", time_trainer)],
                     [("none", time_d_step("none", none)), ("sn", time_d_step("sn", sn))]]
            order = [member for pair in pairs for member in (pair if repeat % 2 == 0 else pair[::-1])]
            for _, timed in order:
                timed()
            orders.append(",".join(name for name, _ in order))
    job = " ".join(paper_job + list(args.overrides)) or f"setting {args.setting}"
    result = {"cell": f"{args.arch}:{args.dataset} {job} norm=sn batch {args.batch_size}", "data": source,
              "trainer_sec_per_100": min(trainer), "bare_sec_per_100": min(bare),
              "trainer_over_bare": min(trainer) / min(bare),
              "resnet_d_step_sec": {"none": min(none), "sn": min(sn)}, "sn_over_none": min(sn) / min(none),
              "order_per_repeat": orders,
              "each_repeat": {"trainer_sec_per_100": trainer, "bare_sec_per_100": bare, "resnet_d_step_sec_none": none,
                              "resnet_d_step_sec_sn": sn}}
    print(f"trainer / bare loop ({result['cell']}): {result['trainer_over_bare']:.3f} "
          f"({result['trainer_sec_per_100']:.3f} vs {result['bare_sec_per_100']:.3f} s per 100 G updates)")
    print(f"SN / no norm, ResNet D step at 32 px, batch {args.batch_size}: {result['sn_over_none']:.3f} "
          f"({min(sn) * 1000:.1f} vs {min(none) * 1000:.1f} ms)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return result
