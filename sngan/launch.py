"""Starting a Hydra command (train, sample, eval): one composition per start, nothing on disk before the command
itself decides to write, and the exact command that resumes a run.

- One run: the config is composed once here (Hydra's compose API), HydraConfig is set so `${hydra:...}` resolves,
  and the task runs in this process. Hydra writes nothing: sngan's run folder and its record (run.yaml) are made by
  the command once its start-up checks pass.
- A sweep (-m): Hydra's sweeper and launcher (basic, joblib, submitit) run the jobs; each job's folder is made by
  the launcher, so a job refused at start removes its own empty folder, and a refused sweep removes the sweep
  folders it made (SweepRecord, a Hydra callback). Hydra writes no .hydra/ into job folders.
- torchrun: rank 0 resolves the run folder and every rank adopts it (one folder, rank 0 writes).
- --help, --cfg, --info and Hydra's other flags go to Hydra itself (sample and eval print their own options).
"""
from __future__ import annotations

import difflib
import json
import os
import sys

from hydra.experimental.callback import Callback  # SweepRecord: no-op hooks for the events it ignores
from omegaconf import OmegaConf, open_dict

from .run.rerun import Rerun

CONFIG_PATH = "pkg://sngan.conf"
SWEEP_ARGV_ENV = "SNGAN_SWEEP_ARGV"   # the sweep's own argv, for the jobs' resume messages (inherited by launchers)
NO_RECORD = "hydra.output_subdir=null"


def _hydra(command: str):
    from hydra._internal.hydra import Hydra
    from hydra._internal.utils import create_config_search_path
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()  # one per composition: an earlier (failed) one would refuse the new one
    return Hydra.create_main_hydra2(task_name=f"sngan {command}", config_search_path=create_config_search_path(CONFIG_PATH))


def _fail(command: str, message: str) -> None:
    print(f"sngan {command}: error: {message}", file=sys.stderr)
    sys.exit(2)


def hydra_message(command: str, config_name: str, overrides: list[str], error: Exception) -> str:
    """Hydra's or OmegaConf's error in one line, its 'To append ... use +key' hint replaced by a did-you-mean."""
    text = str(error).split("Config search path")[0].strip().replace("\n\n", "\n")
    if "Could not override '" in text or "Key '" in text and "is not in struct" in text:
        key = text.split("'")[1]
        return unknown_key_message(config_name, [o for o in overrides if o.split("=", 1)[0].lstrip("+~") != key], key)
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def known_keys(config_name: str, overrides: list[str]) -> list[str]:
    """Every dotted key of the config composed without the offending override (the error path only)."""
    try:
        cfg = _hydra("keys").compose_config(config_name, overrides, run_mode=_run_mode(False))
    except Exception:
        return []
    with open_dict(cfg):
        cfg.pop("hydra", None)
    keys = []

    def walk(node, prefix):
        for k, v in node.items_ex(resolve=False) if hasattr(node, "items_ex") else node.items():
            name = f"{prefix}{k}"
            keys.append(name)
            if OmegaConf.is_dict(v):
                walk(v, name + ".")

    walk(cfg, "")
    return keys


def unknown_key_message(config_name: str, overrides: list[str], key: str) -> str:
    keys = known_keys(config_name, overrides)
    leaf = key.split(".")[-1]
    same_leaf = [k for k in keys if k.split(".")[-1] == leaf]
    close = same_leaf or difflib.get_close_matches(key, keys, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]}?" if close else "see `sngan train --cfg job` for every key"
    return f"unknown key {key}: {hint}"


def _run_mode(multirun: bool):
    from hydra.types import RunMode

    return RunMode.MULTIRUN if multirun else RunMode.RUN


def strip_plus(overrides: list[str], config_name: str) -> tuple[list[str], str | None]:
    """`+key=value` adds a key Hydra's struct mode would refuse: sngan's configs define every key, so an added one
    is a typo (`+train.batch_size=0`) that would be silently ignored. Returns the overrides and a refusal, if any."""
    for o in overrides:
        if o.startswith("+") and not o.startswith("+hydra."):
            key = o[1:].split("=", 1)[0]
            return overrides, unknown_key_message(config_name, [x for x in overrides if x != o], key) + \
                " (every sngan key exists already: pass it without '+')"
    return overrides, None


# ---- one run ----------------------------------------------------------------------------------------------

def run_single(command: str, config_name: str, task, argv: list[str]) -> None:
    """Compose once, set HydraConfig, resolve the run folder (rank 0's under torchrun), run the task."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from .run import naming  # noqa: F401  (registers the run-name resolver the train config uses)

    overrides, refusal = strip_plus(list(argv), config_name)
    if refusal:
        _fail(command, refusal)
    try:
        cfg = _hydra(command).compose_config(config_name, overrides + [NO_RECORD], run_mode=_run_mode(False))
        HydraConfig.instance().set_config(cfg)
        run_dir = os.path.abspath(str(OmegaConf.select(cfg, "hydra.run.dir")))
    except (HydraException, OmegaConfBaseException) as e:
        _fail(command, hydra_message(command, config_name, overrides, e))
    if command == "train":
        from .run.lock import probe  # before torch is imported: a second start on a busy folder ends at once
        from .train.parallel import agree_run_dir

        busy = probe(run_dir)
        if busy:
            _fail(command, busy)

        run_dir = agree_run_dir(run_dir)  # torchrun: rank 0's folder on every rank
    from omegaconf import read_write

    with read_write(cfg.hydra.runtime), open_dict(cfg.hydra.runtime):
        cfg.hydra.runtime.output_dir = run_dir
    HydraConfig.instance().set_config(cfg)
    task_cfg = OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"]) if "hydra" in cfg else cfg
    task(task_cfg, Rerun.of(command, argv, run_dir), None, False)


# ---- a sweep ------------------------------------------------------------------------------------------------

class SweepRecord(Callback):
    """Hydra callback: before the launcher makes the sweep folder, remember what did not exist yet, so a sweep
    refused at start takes away only what it made. Registered by run_sweep."""

    created = None

    def on_multirun_start(self, config, **kwargs) -> None:
        from .run.layout import Created

        SweepRecord.created = Created.before(os.path.abspath(str(config.hydra.sweep.dir)))


def run_sweep(command: str, config_name: str, task, argv: list[str]) -> None:
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from .run import naming  # noqa: F401

    overrides = [a for a in argv if a not in ("-m", "--multirun")]
    overrides, refusal = strip_plus(overrides, config_name)
    if refusal:
        _fail(command, refusal)
    os.environ[SWEEP_ARGV_ENV] = json.dumps(argv)
    callback = "+hydra.callbacks.sngan_sweep_record._target_=sngan.launch.SweepRecord"
    SweepRecord.created = None
    try:
        _hydra(command).multirun(config_name, lambda cfg: _sweep_job(command, task, cfg),
                                 overrides + [NO_RECORD, callback], with_log_configuration=False)
    except (HydraException, OmegaConfBaseException) as e:
        _undo_empty_sweep()
        _fail(command, hydra_message(command, config_name, overrides, e))
    except OSError as e:
        _undo_empty_sweep()
        _fail(command, f"cannot write the sweep folder ({e.strerror}: {e.filename}): pass hydra.sweep.dir=PATH to a "
                       f"writable folder")
    except SystemExit:
        _undo_empty_sweep()
        raise


def _undo_empty_sweep() -> None:
    """A sweep refused before any job trained leaves nothing: the folders it made, when they hold nothing but
    Hydra's multirun.yaml."""
    created = SweepRecord.created
    if created is None or not created.new_dirs:
        return
    top = created.new_dirs[0]
    for root, _dirs, files in os.walk(top):
        if any(f != "multirun.yaml" for f in files):
            return
    created.undo()


def _sweep_job(command: str, task, cfg) -> None:
    """One sweep job (in the launcher's process): its folder was made by the launcher."""
    from hydra.core.hydra_config import HydraConfig

    hc = HydraConfig.get()
    run_dir = os.path.abspath(str(hc.runtime.output_dir))
    job_args = [o for o in hc.overrides.task if not o.startswith(("hydra.", "+hydra."))]
    rerun = Rerun(command, (*job_args, f"hydra.run.dir={run_dir}"))  # this job alone, in its own folder
    sweep_argv = json.loads(os.environ.get(SWEEP_ARGV_ENV, "[]"))
    sweep_rerun = Rerun(command, tuple(sweep_argv)) if sweep_argv else None
    try:
        task(cfg, rerun, sweep_rerun, True)
    except SystemExit:
        _remove_if_empty(run_dir)  # a job refused at start: the empty folder the launcher made goes too
        raise


def _remove_if_empty(folder: str) -> None:
    try:
        if os.path.isdir(folder) and not os.listdir(folder):
            os.rmdir(folder)
    except OSError:
        pass


# ---- the entry point -------------------------------------------------------------------------------------

def run_command(command: str, config_name: str, task, argv: list[str]) -> None:
    """Run a Hydra command: `task(cfg, rerun, sweep_rerun, sweep)` once per run."""
    if any(a.startswith("-") and a not in ("-m", "--multirun") for a in argv):
        return _hydra_flags(command, config_name, argv)
    if "-m" in argv or "--multirun" in argv:
        if command == "train":
            from .train.parallel import launched_by_torchrun

            if launched_by_torchrun():
                _fail(command, "sweeps (-m) cannot run under torchrun: launch one torchrun per sweep point, or "
                               "sweep with hydra/launcher=slurm")
        return run_sweep(command, config_name, task, argv)
    return run_single(command, config_name, task, argv)


def _hydra_flags(command: str, config_name: str, argv: list[str]) -> None:
    """--help, --cfg, --info, ...: Hydra's own handling (sample and eval print their own option list)."""
    if command != "train" and ("--help" in argv or "-h" in argv):
        from importlib.resources import files

        print(files("sngan.conf").joinpath(f"{config_name}.yaml").read_text())
        return
    import hydra

    @hydra.main(version_base="1.3", config_path=CONFIG_PATH, config_name=config_name)
    def _app(cfg):  # only reached with flags Hydra handles itself before running (it never runs a task here)
        return None

    sys.argv = [f"sngan {command}"] + argv
    _app()
