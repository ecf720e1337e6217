"""`sngan bench`: how fast training runs on this device, one mode per module.

  sngan bench [...]               seconds per 100 G updates per norm and arch (norms.py, the default mode)
  sngan bench --throughput [...]  speed options off/on (throughput.py)
  sngan bench --overhead [...]    the trainer over a bare loop, SN over no norm (overhead.py)
  sngan bench --ops [...]         operations, FLOPs and host syncs per G update, counted (ops.py)

Every timed mode runs real training cells (cells.py) on the paper's jobs and their data files (jobs.py).
This module only picks the mode: each mode parses its own options, so its --help lists only those.
"""
from __future__ import annotations

import argparse
import importlib

# mode flag -> (module, function taking the remaining argv, what it measures); no flag: NORM_TABLE
MODES = {
    "throughput": (".throughput", "throughput", "speed options off/on, G updates/s and images/s per arch:dataset"),
    "overhead": (".overhead", "overhead", "the trainer over a bare loop, SN over no norm"),
    "ops": (".ops", "ops", "operations, FLOPs and host syncs per G update"),
}
NORM_TABLE = (".norms", "norm_table")


def mode_parser() -> argparse.ArgumentParser:
    """The mode flags, at most one, anywhere on the line. No -h of its own (a mode's --help is the mode's) and no
    abbreviations (`--thr` stays the norm table's `--threads`); every other argument is left to the mode."""
    parser = argparse.ArgumentParser(prog="sngan bench", add_help=False, allow_abbrev=False)
    group = parser.add_mutually_exclusive_group()
    for flag, (_, _, what) in MODES.items():
        group.add_argument(f"--{flag}", dest="mode", action="store_const", const=flag, help=what)
    return parser


def bench(argv: list[str]):
    """Runs the mode the flags pick with the other arguments, in their order; returns its rows or result."""
    args, rest = mode_parser().parse_known_args(argv)
    module, func = MODES[args.mode][:2] if args.mode else NORM_TABLE
    # imported on use: --ops and --overhead load torch at import, and the norm table needs neither module
    return getattr(importlib.import_module(module, __name__), func)(rest)
