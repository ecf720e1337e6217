"""The `sngan` command: a small dispatcher in front of one Hydra app per subcommand.

Hydra has no subcommands, so the dispatcher takes the command word off sys.argv and hands the rest
(overrides, -m, --help, --cfg ...) to that command's @hydra.main function.
"""
from __future__ import annotations

import importlib
import os
import sys
import tempfile

USAGE = """usage: sngan COMMAND [hydra overrides]

commands:
  train     train a GAN:            sngan train dataset=cifar10 norm=sn setting=C
            sweep with Hydra:       sngan train -m setting=A,B,C norm=none,sn
  sample    grid from a checkpoint: sngan sample ckpt=PATH n=64 out=grid.png
  eval      IS/FID/KID as one JSON line: sngan eval ckpt=PATH [dataset=cifar10] [metrics.num_samples=50000]
  fetch     download datasets and Inception weights for offline use: sngan fetch [--datasets cifar10]
  report    tables and paper figures from runs: sngan report multirun/cifar10/DATE [--out DIR]
  bench     seconds per 100 G updates per norm and arch: sngan bench [--arch dcgan,mlp] [--steps 100]
            speed options off/on:   sngan bench --throughput [--pairs dcgan:cifar10] [--options bf16,compile]
            trainer and SN cost:    sngan bench --overhead [--arch dcgan] [--steps 50]

`sngan COMMAND --help` lists a command's options; `sngan train --cfg job` prints the composed config.
"""

# command -> (module, function, config name). With a config name the function takes the composed
# Hydra config; with None it takes the remaining argv (plain argparse commands such as `report`).
COMMANDS = {
    "train": ("sngan.train.entry", "train", "train"),
    "sample": ("sngan.commands.sample", "sample", "sample"),
    "eval": ("sngan.commands.eval", "evaluate", "eval"),
    "fetch": ("sngan.commands.fetch", "fetch", None),
    "report": ("sngan.commands.report", "report", None),
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


def check_writable(path: str) -> str | None:
    """Why `path` cannot be created and written, or None when it can (checked before Hydra makes it)."""
    probe = os.path.abspath(path)
    while not os.path.exists(probe):
        probe = os.path.dirname(probe)
    if not os.path.isdir(probe):
        return f"{probe} is a file, not a folder"
    try:
        tempfile.TemporaryFile(dir=probe).close()
    except OSError as e:
        return f"{probe} is not writable ({e.strerror})"
    return None


def check_output_dirs(argv: list[str]) -> None:
    """Fail early and in one line when the run (or sweep) folder cannot be written: Hydra would
    otherwise stop with a traceback from inside its own code."""
    multirun = "-m" in argv or "--multirun" in argv
    key = "hydra.sweep.dir=" if multirun else "hydra.run.dir="
    target = next((a[len(key):] for a in argv if a.startswith(key)), "multirun" if multirun else "outputs")
    problem = check_writable(target)
    if problem:
        print(f"sngan: error: cannot write the output folder {target}: {problem}; pass {key}PATH "
              f"to a writable folder", file=sys.stderr)
        sys.exit(2)


def first_of_each_sweep(argv: list[str]) -> list[str]:
    """The overrides of argv with each sweep (a=1,2 or a=range(...)) replaced by its first value."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    out = []
    for override in OverridesParser.create().parse_overrides(argv):
        if override.is_sweep_override():
            value = next(iter(override.sweep_string_iterator()))
            out.append(f"{override.get_key_element()}={value}")
        else:
            out.append(override.input_line)
    return out


def check_composes(command: str, config_name: str, argv: list[str]) -> None:
    """Compose the config before Hydra runs (and makes a folder): an unknown option or key, or a malformed
    override, is bad input: Hydra's message (with its list of available options), exit 2, nothing written."""
    if any(a.startswith("-") and a not in ("-m", "--multirun") for a in argv):
        return  # --help, --cfg, --info, ...: Hydra's own
    from hydra import compose, initialize_config_module
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    try:
        overrides = first_of_each_sweep([a for a in argv if a not in ("-m", "--multirun")])
        with initialize_config_module("sngan.conf", version_base="1.3"):
            compose(config_name, overrides=overrides)
    except (HydraException, OmegaConfBaseException) as e:
        message = str(e).split("Config search path")[0].strip().replace("\n\n", "\n")
        print(f"sngan {command}: error: {message}", file=sys.stderr)
        sys.exit(2)


def remove_if_unused(folder: str) -> None:
    """Remove a run folder a failed start made: nothing in it but Hydra's .hydra/ and empty folders."""
    import shutil

    if not os.path.isdir(folder):
        return
    for root, dirs, files in os.walk(folder):
        if files and os.path.relpath(root, folder).split(os.sep)[0] != ".hydra":
            return
    shutil.rmtree(folder, ignore_errors=True)
    parent = os.path.dirname(folder)
    while parent and os.path.isdir(parent) and not os.listdir(parent) and parent != os.getcwd():
        os.rmdir(parent)  # outputs/<dataset>/ when this was its only run
        parent = os.path.dirname(parent)


def run_hydra(command: str, argv: list[str]) -> None:
    import hydra

    from . import run  # noqa: F401  (registers the run-name resolver the train config uses)
    from .errors import EXIT_INTERRUPTED, EXIT_NONFINITE, UserError

    module, func, config_name = COMMANDS[command]
    check_composes(command, config_name, argv)

    @hydra.main(version_base="1.3", config_path="pkg://sngan.conf", config_name=config_name)
    def _app(cfg):
        task = getattr(importlib.import_module(module), func)
        try:
            return task(cfg)
        except UserError as e:
            kind = {EXIT_INTERRUPTED: "stopped", EXIT_NONFINITE: "halted"}.get(e.exit_code, "error")
            print(f"sngan {command}: {kind}: {e}", file=sys.stderr)
            if kind == "error" and command == "train":
                from hydra.core.hydra_config import HydraConfig

                remove_if_unused(HydraConfig.get().runtime.output_dir)  # bad input leaves nothing behind
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
        if command == "train":
            check_output_dirs(rest)
            from .train.parallel import shared_run_dir_args

            rest = shared_run_dir_args(rest)  # torchrun: one run folder for all ranks
        run_hydra(command, rest)


if __name__ == "__main__":
    main()
