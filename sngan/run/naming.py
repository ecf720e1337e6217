"""The default run folder name: a pure function of what defines the run, so rerunning a command (or a whole
sweep) finds its own folder again and resumes there.

    outputs/<dataset>/<arch>-<loss>-<norm>-<setting>-s<seed>[-<hash of the other defining overrides>]
    outputs/<dataset>/<experiment>-s<seed>[-<hash>]      with experiment=...
    outputs/<dataset>/<name>                             with name=...

Overrides that do not change what is trained (run length, logging, device, metrics, speed, data location,
resume options) leave the name alone: `train.steps=` extends a run in place.
"""
from __future__ import annotations

import hashlib

from omegaconf import OmegaConf

RESOLVER = "sngan_run_name"
IN_NAME = {"dataset", "arch", "loss", "norm", "setting", "seed", "experiment", "name"}
NOT_DEFINING = {"device", "resume", "resume_force", "speed", "metrics"}
NOT_DEFINING_PREFIXES = ("train.", "metrics.", "speed.", "hydra.", "dataset.root", "dataset.download",
                         "dataset.in_memory")


def _key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def defining_overrides(overrides) -> list[str]:
    """The overrides that change what is trained, besides those the name spells out."""
    out = []
    for o in overrides or []:
        key = _key(str(o))
        if key in IN_NAME or key in NOT_DEFINING or key.startswith(NOT_DEFINING_PREFIXES):
            continue
        out.append(str(o))
    return sorted(out)


def run_name(name, arch, loss, norm, setting, seed, overrides=None) -> str:
    if name not in (None, "", "None"):
        return str(name)
    experiment = next((str(o).split("=", 1)[1] for o in overrides or [] if _key(str(o)) == "experiment"), None)
    base = f"{experiment}-s{seed}" if experiment else f"{arch}-{loss}-{norm}-{setting}-s{seed}"
    extra = defining_overrides(overrides)
    if extra:
        base += "-" + hashlib.sha256("\n".join(extra).encode()).hexdigest()[:8]
    return base


def register() -> None:
    if not OmegaConf.has_resolver(RESOLVER):
        OmegaConf.register_new_resolver(RESOLVER, run_name)


register()
