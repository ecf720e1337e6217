"""Throughput of the real training loop with each speed option off and on (`sngan bench --throughput`).

Each cell is a short `sngan.train.train` run timed as `sngan bench` times it (warm-up window left out,
bookkeeping outside the windows). Rows: the baseline (every option off, data on the device), each
option switched alone, and all of them on; the ratio column is the baseline's time over the row's.
Each cell runs the paper's job for its arch and dataset, on synthetic files when the real ones are absent
(sngan.commands.bench.jobs).
"""
from __future__ import annotations

import argparse
import json
import tempfile

from ...errors import UserError
from .cells import run_cell
from .jobs import cell_overrides, dataset_overrides

# option -> the override that turns it on (the baseline has them all off, data_on_device on)
TOGGLES = {"bf16": "speed.bf16=true", "compile": "speed.compile=true", "channels_last": "speed.channels_last=true",
           "tf32": "speed.tf32=true", "data_on_device=false": "speed.data_on_device=false"}
BASELINE = ["speed.bf16=false", "speed.compile=false", "speed.channels_last=false", "speed.tf32=false",
            "speed.data_on_device=true"]
ALL_ON = ["speed.bf16=true", "speed.compile=true", "speed.channels_last=true", "speed.tf32=true",
          "speed.data_on_device=true"]
SETTING_OF_ARCH = {"dcgan": "C", "resnet": "resnet", "mlp": "C"}
# whole speed presets instead of single options (--presets): what a user runs
PRESETS = {"default": ["speed=default"], "gpu": ["speed=gpu"],
           "reduce-overhead": ["speed=gpu", "speed.compile_mode=reduce-overhead"],
           "aot_eager": ["speed=gpu", "speed.compile=aot_eager"]}  # traced, no code generation (the CPU smoke test)


def run_throughput(pairs, options, steps, warmup, batch_size, device, extra, presets=None) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="sngan-throughput-") as tmp:
        for arch, dataset in pairs:
            data_args, source = dataset_overrides(dataset, tmp)
            setting = SETTING_OF_ARCH.get(arch, "C")
            if presets:  # whole presets, the first one the baseline of the speed-up column
                variants = [(name, PRESETS[name]) for name in presets]
            else:
                variants = [("baseline", BASELINE)] + [(o, BASELINE + [TOGGLES[o]]) for o in options]
                if len(options) > 1:
                    variants.append(("all on", ALL_ON if "compile" in options else
                                     [a for a in ALL_ON if a != "speed.compile=true"]))
            base = None
            for name, overrides in variants:
                row = {"arch": arch, "dataset": dataset, "data": source, "options": name}
                rows.append(row)
                timed = run_cell(row, arch, "sn", dataset, steps, warmup, batch_size, device, setting,
                                 cell_overrides(arch, dataset) + data_args + overrides + list(extra))
                if timed is None:
                    continue
                sec, cfg = timed
                row["G_updates_per_s"] = 100.0 / sec
                # real images D sees per second: n_dis fresh batches per G update (as composed, overrides included)
                row["images_per_s"] = row["G_updates_per_s"] * batch_size * int(cfg.optim.n_dis)
                if base is None:
                    base = row["G_updates_per_s"]
                row["speedup"] = row["G_updates_per_s"] / base if base else None
    return rows


def format_table(rows: list[dict]) -> str:
    lines = [f"{'arch':7} {'dataset':8} {'options':21} {'G updates/s':>12} {'images/s':>10} {'speed-up':>9}"]
    for r in rows:
        head = f"{r['arch']:7} {r['dataset']:8} {r['options']:21}"
        if "error" in r:
            lines.append(f"{head} failed: {r['error']}")
            continue
        ratio = f"{r['speedup']:.2f}x" if r.get("speedup") else "n/a"
        lines.append(f"{head} {r['G_updates_per_s']:12.2f} {r['images_per_s']:10.1f} {ratio:>9}")
    notes = sorted({f"{r['dataset']}: {r['data']} images" for r in rows if r.get("data", "real") != "real"})
    return "\n".join(lines + notes)


def throughput(argv: list[str]) -> list[dict]:
    parser = argparse.ArgumentParser(prog="sngan bench --throughput", description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", default="dcgan:digits,dcgan:cifar10,resnet:cifar10,resnet:stl10",
                        help="comma-separated arch:dataset cells (default: %(default)s)")
    parser.add_argument("--options", default=",".join(TOGGLES),
                        help="options switched one at a time (default: %(default)s)")
    parser.add_argument("--presets", default=None,
                        help=f"whole speed presets instead of single options, from {', '.join(PRESETS)} "
                             f"(the first is the speed-up baseline)")
    parser.add_argument("--steps", type=int, default=50, help="timed generator updates per cell (default 50)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed generator updates first (default 5)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--json", default=None, help="also write the rows to this JSON file")
    parser.add_argument("overrides", nargs="*", help="extra training overrides, e.g. arch.g_ch=64")
    args = parser.parse_args(argv)
    if args.steps < 1 or args.warmup < 1:
        raise UserError(f"--steps and --warmup must be >= 1, got {args.steps} and {args.warmup}")
    options = [o for o in args.options.split(",") if o]
    unknown = [o for o in options if o not in TOGGLES]
    if unknown:
        raise UserError(f"unknown option(s) {', '.join(unknown)}: choose from {', '.join(TOGGLES)}")
    presets = [p for p in (args.presets or "").split(",") if p]
    if any(p not in PRESETS for p in presets):
        raise UserError(f"unknown preset(s) {', '.join(p for p in presets if p not in PRESETS)}: choose from "
                        f"{', '.join(PRESETS)}")
    try:
        pairs = [tuple(p.split(":")) for p in args.pairs.split(",") if p]
        assert all(len(p) == 2 for p in pairs)
    except AssertionError:
        raise UserError(f"--pairs takes arch:dataset items, got {args.pairs}") from None
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    rows = run_throughput(pairs, options, args.steps, args.warmup, args.batch_size, args.device, args.overrides,
                          presets)
    print(format_table(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)
    return rows
