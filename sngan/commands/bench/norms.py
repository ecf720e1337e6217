"""`sngan bench`: seconds per 100 generator updates per norm and arch on this device (paper Fig. 10).

Each cell is a short real training run (sngan.train.train in a temporary folder) with log_every set to
the warm-up length, so the first timing window holds the warm-up and is left out; the rest are averaged,
weighted by their length. Sigma reports, samples, metrics and checkpoints fall outside the timed windows.
"""
from __future__ import annotations

import argparse
import json

from ...errors import UserError
from . import MODES
from .cells import run_cell

POINTS_DATASET, IMAGE_DATASET = "ring8", "digits"


def available_norms() -> list[str]:
    """Every registered norm (sngan.gan.norms.NORMS) that has a config preset."""
    from importlib import resources

    from ...gan.norms import NORMS

    presets = {p.name[:-5] for p in resources.files("sngan.conf").joinpath("norm").iterdir()
               if p.name.endswith(".yaml")}
    return [n for n in NORMS if n in presets]


def run_bench(archs, norms, dataset, steps, warmup, batch_size, device, setting, extra, rounds) -> list[dict]:
    """One row per (arch, norm): sec_per_100 (the mean over rounds) and its ratio to norm=none of the same arch
    (or an error). Rounds alternate the order (none first, then last, ...): a machine that warms up or slows
    down during the bench favours neither end of the list."""
    rows = []
    for arch in archs:
        data = dataset or (POINTS_DATASET if arch == "mlp" else IMAGE_DATASET)
        arch_rows = {norm: {"arch": arch, "dataset": data, "norm": norm, "sec_per_round": []} for norm in norms}
        for round_index in range(rounds):
            for norm in (norms if round_index % 2 == 0 else norms[::-1]):
                row = arch_rows[norm]
                if "error" in row:
                    continue
                timed = run_cell(row, arch, norm, data, steps, warmup, batch_size, device, setting, extra)
                if timed is not None:
                    row["sec_per_round"].append(timed[0])
        for row in arch_rows.values():
            if "error" not in row:
                row["sec_per_100_G_updates"] = sum(row["sec_per_round"]) / len(row["sec_per_round"])
        base = arch_rows.get("none", {}).get("sec_per_100_G_updates")
        for row in arch_rows.values():
            if "error" not in row:
                row["ratio_to_none"] = row["sec_per_100_G_updates"] / base if base else None
        rows.extend(arch_rows.values())
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


def norm_table(argv: list[str]) -> list[dict]:
    """`sngan bench` without a mode flag: the norm x arch table, printed (and written to --json); returns its rows."""
    # the epilog names the other modes, which sngan.commands.bench.bench has already routed elsewhere
    modes = "; ".join(f"--{flag}: {what}" for flag, (_, _, what) in MODES.items())
    parser = argparse.ArgumentParser(prog="sngan bench", description=__doc__.split("\n")[0],
                                     epilog=f"other modes ({modes}): `sngan bench --MODE --help` lists their options")
    parser.add_argument("--arch", default="dcgan,mlp", help="comma-separated archs (default: dcgan,mlp)")
    parser.add_argument("--norm", default=None, help="comma-separated norms (default: every registered norm)")
    parser.add_argument("--dataset", default=None,
                        help=f"dataset for every arch (default: {POINTS_DATASET} for mlp, {IMAGE_DATASET} otherwise)")
    parser.add_argument("--steps", type=int, default=100, help="timed generator updates (default 100)")
    parser.add_argument("--warmup", type=int, default=10, help="untimed generator updates first (default 10)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="timings per cell, the order reversed each round (default 2: none first, then last)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--setting", default="C", help="paper setting A-F (n_dis, Adam); default C")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--json", default=None, help="also write the rows to this JSON file")
    parser.add_argument("overrides", nargs="*", help="extra training overrides, e.g. loss=hinge z_dim=64")
    args = parser.parse_args(argv)
    if args.steps < 1 or args.warmup < 1 or args.rounds < 1:
        raise UserError(f"--steps, --warmup and --rounds must be >= 1, got {args.steps}, {args.warmup} and "
                        f"{args.rounds}")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    norms = _csv_list(args.norm) if args.norm else available_norms()
    if "none" in norms:  # the baseline at the ends of the list: first in odd rounds, last in even ones
        norms = ["none"] + [n for n in norms if n != "none"]
    rows = run_bench(_csv_list(args.arch), norms, args.dataset, args.steps, args.warmup, args.batch_size,
                     args.device, args.setting, args.overrides, args.rounds)
    print(format_table(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)
    return rows
