"""The `sngan` command: a small dispatcher in front of one Hydra app per subcommand.

Hydra has no subcommands, so the dispatcher takes the command word off sys.argv and hands the rest
(overrides, -m, --help, --cfg ...) to that command's @hydra.main function.
"""
from __future__ import annotations

import importlib
import sys

USAGE = """usage: sngan COMMAND [hydra overrides]

commands:
  train     train a GAN:            sngan train dataset=cifar10 norm=sn setting=C
            sweep with Hydra:       sngan train -m setting=A,B,C norm=none,sn
  sample    grid from a checkpoint: sngan sample ckpt=PATH n=64 out=grid.png
  report    tables and paper figures from runs: sngan report multirun/cifar10/DATE [--out DIR]
  bench     seconds per 100 G updates per norm and arch: sngan bench [--arch dcgan,mlp] [--steps 100]

`sngan COMMAND --help` lists a command's options; `sngan train --cfg job` prints the composed config.
"""

# command -> (module, function, config name). With a config name the function takes the composed
# Hydra config; with None it takes the remaining argv (plain argparse commands such as `report`).
COMMANDS = {
    "train": ("sngan.train", "train", "train"),
    "sample": ("sngan.sample", "sample", "sample"),
    "report": ("sngan.report", "report", None),
    "bench": ("sngan.bench", "bench", None),
}


def run_plain(command: str, argv: list[str]) -> None:
    from .errors import UserError

    module, func, _ = COMMANDS[command]
    try:
        getattr(importlib.import_module(module), func)(argv)
    except UserError as e:
        print(f"sngan {command}: error: {e}", file=sys.stderr)
        sys.exit(e.exit_code)


def run_hydra(command: str, argv: list[str]) -> None:
    import hydra

    from .errors import UserError

    module, func, config_name = COMMANDS[command]

    @hydra.main(version_base="1.3", config_path="pkg://sngan.conf", config_name=config_name)
    def _app(cfg):
        task = getattr(importlib.import_module(module), func)
        try:
            return task(cfg)
        except UserError as e:
            print(f"sngan {command}: error: {e}", file=sys.stderr)
            sys.exit(e.exit_code)

    sys.argv = [f"sngan {command}"] + argv
    _app()


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
        run_hydra(command, rest)


if __name__ == "__main__":
    main()
