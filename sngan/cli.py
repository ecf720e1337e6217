"""The `sngan` command: a small dispatcher in front of the subcommands.

Hydra has no subcommands: the dispatcher takes the command word off the arguments; train, sample and eval then
start through sngan.launch (one composition, Hydra's sweeps, torchrun), the others are plain argparse commands.
"""
from __future__ import annotations

import importlib
import sys

USAGE = """usage: sngan COMMAND [hydra overrides]

commands:
  train     train a GAN:            sngan train dataset=cifar10 norm=sn setting=C
            sweep with Hydra:       sngan train -m setting=A,B,C norm=none,sn
  sample    grid from a checkpoint: sngan sample ckpt=PATH n=64 out=grid.png
  eval      IS/FID/KID as one JSON line: sngan eval ckpt=PATH [dataset=cifar10] [metrics.num_samples=50000]
  fetch     download datasets and Inception weights for offline use: sngan fetch [--datasets cifar10]
  report    tables and paper figures from runs: sngan report multirun/digits [--out DIR] [--by KEY]
  bench     seconds per 100 G updates per norm and arch: sngan bench [--arch dcgan,mlp] [--steps 100]
            speed options off/on:   sngan bench --throughput [--pairs resnet:cifar10] [--options bf16,compile]
            trainer and SN cost:    sngan bench --overhead [--arch dcgan] [--steps 50]
            operations per update:  sngan bench --ops [--arch resnet --dataset cifar10]

`sngan COMMAND --help` lists a command's options; `sngan train --cfg job` prints the composed config.
"""

# command -> (module, function, config name). With a config name the function takes the composed
# Hydra config; with None it takes the remaining argv (plain argparse commands such as `report`).
COMMANDS = {
    "train": ("sngan.train.entry", "train", "train"),
    "sample": ("sngan.commands.sample", "sample", "sample"),
    "eval": ("sngan.commands.eval", "evaluate", "eval"),
    "fetch": ("sngan.commands.fetch", "fetch", None),
    "report": ("sngan.commands.report.report", "report", None),
    "bench": ("sngan.commands.bench", "bench", None),
}


def run_plain(command: str, argv: list[str]) -> None:
    from .errors import UserError

    module, func, _ = COMMANDS[command]
    try:
        getattr(importlib.import_module(module), func)(argv)
    except UserError as e:
        print(f"sngan {command}: error: {e}", file=sys.stderr)
        sys.exit(e.exit_code)


def hydra_task(command: str):
    """The function sngan.launch runs once per run: the command with its one-line errors and exit codes."""
    module, func, _ = COMMANDS[command]

    def task(cfg, rerun: str | None, sweep_rerun: str | None, sweep: bool):
        from .errors import EXIT_INTERRUPTED, EXIT_NONFINITE, UserError

        run = getattr(importlib.import_module(module), func)
        try:
            if command == "train":
                from .train.entry import LaunchContext

                return run(cfg, LaunchContext(rerun, sweep_rerun, sweep))
            return run(cfg)
        except UserError as e:
            kind = {EXIT_INTERRUPTED: "stopped", EXIT_NONFINITE: "halted"}.get(e.exit_code, "error")
            print(f"sngan {command}: {kind}: {e}", file=sys.stderr)
            sys.exit(e.exit_code)
    return task


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        sys.exit(0 if argv else 2)
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(f"sngan: unknown command '{command}': choose one of {', '.join(COMMANDS)} (see sngan --help)",
              file=sys.stderr)
        sys.exit(2)
    if COMMANDS[command][2] is None:
        run_plain(command, rest)
    else:
        from .launch import run_command

        run_command(command, COMMANDS[command][2], hydra_task(command), rest)


if __name__ == "__main__":
    main()
