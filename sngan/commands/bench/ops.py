"""`sngan bench --ops`: what one G update of a job costs in operations, counted rather than timed (repeatable on any
machine): aten operations dispatched (forward and backward, views excluded, each optimizer step counted as the one
fused kernel it is on CUDA: on a GPU, roughly the kernels launched), FLOPs
(torch.utils.flop_counter), and on CUDA the host synchronizations inside the update (sync debug mode warnings,
and the profiler's device-to-host copies and stream/device synchronizations; 0 expected), each for SN's
per-layer and grouped power iterations (speed.grouped_sn).

Default job: the paper's CIFAR-10 ResNet (experiment=cifar10_resnet_sn: hinge, n_dis 5, D batch 64 + 64,
G batch 128), on synthetic CIFAR-10 files when the real ones are absent.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import warnings
from collections import Counter

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from ...errors import UserError
from .jobs import cell_overrides, dataset_overrides


class OpCounter(TorchDispatchMode):
    """Counts the aten operations dispatched while active that launch work: views (metadata only) are left out, and
    an optimizer step counts as one (the fused Adam kernel it is on CUDA), whatever it dispatches on this device."""

    def __init__(self, optimizers=()):
        super().__init__()
        self.ops: Counter = Counter()
        self.paused = False
        self.optimizers = optimizers

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if not self.paused and not func.is_view:
            self.ops[str(func.overloadpacket.__name__)] += 1
        return func(*args, **(kwargs or {}))

    def __enter__(self):
        self._steps = [(opt, opt.step) for opt in self.optimizers]
        for opt, step in self._steps:
            opt.step = self._one_kernel(step)
        return super().__enter__()

    def __exit__(self, *exc):
        for opt, step in self._steps:
            opt.step = step
        return super().__exit__(*exc)

    def _one_kernel(self, step):
        def counted(*args, **kwargs):
            self.ops["optimizer step (one fused kernel)"] += 1
            self.paused = True
            try:
                return step(*args, **kwargs)
            finally:
                self.paused = False
        return counted


def count_update(models, plan, stream, step: int, device: torch.device) -> dict:
    """Counts of one G update (train.step.train_step) after the ones already run."""
    from torch.utils.flop_counter import FlopCounterMode

    from ...train.step import train_step

    counter = OpCounter((models.opt_G, models.opt_D))
    with counter:
        train_step(models, plan, stream, step)
    flops = FlopCounterMode(display=False)
    with flops:
        train_step(models, plan, stream, step + 1)
    out = {"aten_ops": sum(counter.ops.values()), "flops": flops.get_total_flops(),
           "top_ops": dict(counter.ops.most_common(8))}
    if device.type == "cuda":
        out.update(count_syncs(models, plan, stream, step + 2))
    return out


def count_syncs(models, plan, stream, step: int) -> dict:
    """Host synchronizations inside one G update on CUDA: sync-debug warnings and profiler events."""
    from torch.profiler import ProfilerActivity, profile

    from ...train.step import train_step

    torch.cuda.synchronize()
    with warnings.catch_warnings(record=True) as caught, \
            profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            train_step(models, plan, stream, step)
        finally:
            torch.cuda.set_sync_debug_mode("default")
    names = Counter(e.name for e in prof.events())
    syncs = sum(n for name, n in names.items() if "Synchronize" in name)
    dtoh = sum(n for name, n in names.items() if "DtoH" in name or "Device -> " in name)
    return {"sync_debug_warnings": sum(1 for w in caught if "synchroniz" in str(w.message).lower()),
            "profiler_synchronizations": syncs, "profiler_dtoh_copies": dtoh}


def measure(overrides: list[str], device: str, warmup: int) -> dict:
    from ...config import compose_train
    from ...device import pick_device
    from ...train.entry import bare_training, read_config

    with tempfile.TemporaryDirectory() as run_dir:
        cfg = compose_train(overrides + [f"device={device}", "metrics.enabled=false"], run_dir=run_dir)
        dev = pick_device(cfg.device)
        models, plan, stream = bare_training(read_config(cfg), dev)
        from ...train.step import train_step

        for step in range(warmup):
            train_step(models, plan, stream, step)
        return count_update(models, plan, stream, warmup, dev)


def ops(argv: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="sngan bench --ops", description=__doc__.split("\n")[0])
    parser.add_argument("--arch", default="resnet")
    parser.add_argument("--dataset", default="cifar10")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--warmup", type=int, default=2, help="G updates before counting (default 2)")
    parser.add_argument("--json", default=None)
    parser.add_argument("overrides", nargs="*", help="extra training overrides, e.g. batch_size=16")
    args = parser.parse_args(argv)
    if args.warmup < 1:
        raise UserError("--warmup must be >= 1")
    with tempfile.TemporaryDirectory() as tmp:
        data_args, source = dataset_overrides(args.dataset, tmp)
        base = [f"arch={args.arch}", f"dataset={args.dataset}", *cell_overrides(args.arch, args.dataset), *data_args,
                *args.overrides]
        result = {"job": " ".join(base), "data": source,
                  "no_norm": measure(base + ["norm=none"], args.device, args.warmup),
                  "per_layer_sn": measure(base + ["speed.grouped_sn=false"], args.device, args.warmup),
                  "grouped_sn": measure(base + ["speed.grouped_sn=true"], args.device, args.warmup)}
    none, per, grouped = result["no_norm"], result["per_layer_sn"], result["grouped_sn"]
    print(f"one G update of {result['job']} ({source} data): {per['flops'] / 1e12:.3f} TFLOP")
    print(f"aten ops per G update (views left out, an optimizer step counted once): {none['aten_ops']} with norm=none; "
          f"SN {grouped['aten_ops']} grouped (speed.grouped_sn, the CUDA default: "
          f"{grouped['aten_ops'] / none['aten_ops']:.2f}x), {per['aten_ops']} per layer "
          f"({per['aten_ops'] / none['aten_ops']:.2f}x)")
    for name in ("sync_debug_warnings", "profiler_synchronizations", "profiler_dtoh_copies"):
        if name in grouped:
            print(f"{name.replace('_', ' ')} per G update: {grouped[name]} (per-layer SN: {per[name]})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return result
