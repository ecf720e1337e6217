"""`sngan bench --overhead`: what the trainer and SN cost on this device, as ratios measured side by side.

- trainer / bare loop: seconds per 100 G updates of `sngan train` (timing windows as `sngan bench`) over a
  bare loop of the same modules, data and losses with nothing else (no finite check, no EMA, no logging);
- SN / no norm: one D step (forward on real+fake, backward, Adam) of the paper's ResNet D at 32 px, batch 64.
Each pair runs interleaved `--repeats` times and the fastest of each is kept (noise on shared machines only
ever adds time).
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time

import torch

from ..errors import UserError
from .cells import bench_config, bench_one


def bare_loop_sec_per_100(cfg, steps: int, warmup: int) -> float:
    """The training step with nothing around it, on the modules and data the trainer would build."""
    from ..build import build_models, model_recipe
    from ..data.images import to_float
    from ..device import pick_device
    from ..gan.generate import Latents
    from ..gan.losses import build_loss
    from ..train.build import build_optimizers, build_stream
    from ..train.options import OptimOptions
    from ..train.parallel import Parallel

    device = pick_device(cfg.device)
    recipe, loss = model_recipe(cfg), build_loss(str(cfg.loss.name))
    shape, norm = recipe.shape, recipe.norm
    optim = OptimOptions.from_config(cfg.optim)
    G, D = build_models(recipe, device)
    opt_G, opt_D = build_optimizers(optim, G, D, fused=device.type == "cuda")
    stream = build_stream(cfg.dataset, int(cfg.batch_size), int(cfg.seed), device, 0, Parallel(), 0, True)
    latents, B = Latents.of(shape, int(cfg.seed)), int(cfg.batch_size)
    start = None
    for step in range(warmup + steps):
        if step == warmup:
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
        for i in range(optim.n_dis):
            x, _ = stream.next()
            x = to_float(x) if x.dtype == torch.uint8 else x
            with torch.no_grad():
                fake = G(latents.noise(B, device, step, i))
            logits = D(torch.cat([x, fake]))
            loss_D = loss.d_loss(logits[:B], logits[B:])
            opt_D.zero_grad(set_to_none=True)
            loss_D.backward()
            opt_D.step()
            norm.after_d_step(D)
        loss_G = loss.g_loss(D(G(latents.noise(B, device, step, optim.n_dis))))
        opt_G.zero_grad(set_to_none=True)
        loss_G.backward()
        opt_G.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return 100.0 * (time.perf_counter() - start) / steps


def d_step_seconds(norm_name: str, device: str, batch_size: int, steps: int, warmup: int) -> float:
    """Seconds per D step of the paper's CIFAR-10 ResNet D (32 px) with norm_name."""
    from ..build import build_models, model_recipe
    from ..device import pick_device

    with tempfile.TemporaryDirectory() as d:
        cfg = bench_config("resnet", norm_name, "digits", 1, 1, batch_size, device, "resnet", d,
                           ["dataset.resolution=32", "dataset.channels=3"])
    dev = pick_device(cfg.device)
    _, D = build_models(model_recipe(cfg), dev)
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
    args = parser.parse_args(argv)
    if min(args.steps, args.warmup, args.repeats, args.d_steps) < 1:
        raise UserError("--steps, --warmup, --d-steps and --repeats must be >= 1")
    trainer, bare, sn, none = [], [], [], []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as d:
            cfg = bench_config(args.arch, "sn", args.dataset, args.steps, args.warmup, args.batch_size,
                               args.device, args.setting, d, [])
            bare.append(bare_loop_sec_per_100(cfg, args.steps, args.warmup))
        trainer.append(bench_one(args.arch, "sn", args.dataset, args.steps, args.warmup, args.batch_size,
                                 args.device, args.setting, [])[0])
        none.append(d_step_seconds("none", args.device, args.batch_size, args.d_steps, 2))
        sn.append(d_step_seconds("sn", args.device, args.batch_size, args.d_steps, 2))
    result = {"cell": f"{args.arch}:{args.dataset} setting {args.setting} norm=sn batch {args.batch_size}",
              "trainer_sec_per_100": min(trainer), "bare_sec_per_100": min(bare),
              "trainer_over_bare": min(trainer) / min(bare),
              "resnet_d_step_sec": {"none": min(none), "sn": min(sn)}, "sn_over_none": min(sn) / min(none)}
    print(f"trainer / bare loop ({result['cell']}): {result['trainer_over_bare']:.3f} "
          f"({result['trainer_sec_per_100']:.3f} vs {result['bare_sec_per_100']:.3f} s per 100 G updates)")
    print(f"SN / no norm, ResNet D step at 32 px, batch {args.batch_size}: {result['sn_over_none']:.3f} "
          f"({min(sn) * 1000:.1f} vs {min(none) * 1000:.1f} ms)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return result
