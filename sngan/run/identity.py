"""What identifies a run: the config keys that change what is trained. One definition, used by the run folder's
name (sngan.run.naming), the resume guard (sngan.train.resume) and TensorBoard's HParams tab (sngan.run.hparams).

Every key defines the run except those below: how long and how it is logged (train.*), what is measured
(metrics.*, dataset.metric_features), how fast it runs (speed.*, device), where things are and how they are read
(dataset.root, dataset.system_root, dataset.download, dataset.in_memory, dataset.memory_budget_gb, hydra.*, run_dir,
name) and how it resumes (resume, resume_force). Labels whose values are
compared through the keys they set (setting_name sets optim.*, experiment sets everything) are not compared
themselves, and dataset.steps only feeds train.steps.
"""
from __future__ import annotations

NOT_DEFINING = {"device", "resume", "resume_force", "name", "run_dir", "setting_name", "experiment", "speed", "metrics",
                "train", "hydra"}
NOT_DEFINING_PREFIXES = ("train.", "metrics.", "speed.", "hydra.", "dataset.root", "dataset.system_root",
                         "dataset.download", "dataset.in_memory", "dataset.memory_budget_gb", "dataset.metric_features",
                         "dataset.steps")


def key_of(override: str) -> str:
    """The dotted key of a command-line override (`+a.b=1`, `~a`, `a.b=1` -> `a.b`)."""
    return str(override).split("=", 1)[0].lstrip("+~")


def is_defining(key: str) -> bool:
    """True when a change of this dotted config key (or config group) changes what is trained."""
    return key not in NOT_DEFINING and not key.startswith(NOT_DEFINING_PREFIXES)


def flatten(config: dict, prefix: str = "") -> dict:
    """{dotted key: value} of a plain nested config."""
    out = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


def identity(config: dict) -> dict:
    """The defining keys of a plain (resolved) config and their values, flattened."""
    return {k: v for k, v in flatten(config).items() if is_defining(k)}


def changes(saved: dict, current: dict) -> dict[str, tuple]:
    """{dotted key: (saved value, current value)} for defining keys that differ; keys only one side has (written
    before the key existed, or since removed from the config) are not compared."""
    old, new = identity(saved), identity(current)
    return {k: (old[k], new[k]) for k in sorted(old) if k in new and old[k] != new[k]}


def hparams(config: dict) -> dict:
    """The run's identity as TensorBoard hparams (str, int, float or bool values), with its setting's name."""
    out = {"setting": str(config.get("setting_name", ""))}
    for key, value in identity(config).items():
        out[key] = value if isinstance(value, (bool, int, float, str)) else str(value)
    return out
