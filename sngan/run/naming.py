"""The default run folder name: a pure function of what defines the run, so rerunning a command (or a whole
sweep) finds its own folder again and resumes there.

    outputs/<dataset>/<arch>-<loss>-<norm>-<setting>-s<seed>[-<hash of the other defining overrides>]
    outputs/<dataset>/<experiment>-s<seed>[-<hash>]      with experiment=...
    outputs/<dataset>/<name>                             with name=...

Overrides that do not change what is trained (sngan.run.identity: run length, logging, device, metrics, speed,
data location, resume options) leave the name alone: `train.steps=` extends a run in place.
"""
from __future__ import annotations

import hashlib
import os

from omegaconf import OmegaConf

from .identity import is_defining, key_of

RESOLVER = "sngan_run_name"
FOLDER_RESOLVER = "sngan_folder_name"
IN_NAME = {"dataset", "arch", "loss", "norm", "setting", "seed", "experiment", "name"}


def defining_overrides(overrides) -> list[str]:
    """The overrides that change what is trained, besides those the name spells out."""
    return sorted(str(o) for o in overrides or [] if key_of(str(o)) not in IN_NAME and is_defining(key_of(str(o))))


def run_name(name, arch, loss, norm, setting, seed, overrides=None) -> str:
    if name not in (None, "", "None"):
        return str(name)
    experiment = next((str(o).split("=", 1)[1] for o in overrides or [] if key_of(str(o)) == "experiment"), None)
    base = f"{experiment}-s{seed}" if experiment else f"{arch}-{loss}-{norm}-{setting}-s{seed}"
    extra = defining_overrides(overrides)
    if extra:
        base += "-" + hashlib.sha256("\n".join(extra).encode()).hexdigest()[:8]
    return base


def folder_name(root) -> str:
    """dataset=folder's default name: the folder's own (`~/pictures/shoes/` -> shoes), "folder" until a root is
    given (the dataset's checks then ask for one)."""
    if root in (None, "", "None", "???"):
        return "folder"
    name = os.path.basename(os.path.normpath(os.path.expanduser(str(root))))
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "folder"


def register() -> None:
    if not OmegaConf.has_resolver(RESOLVER):
        OmegaConf.register_new_resolver(RESOLVER, run_name)
    if not OmegaConf.has_resolver(FOLDER_RESOLVER):
        OmegaConf.register_new_resolver(FOLDER_RESOLVER, folder_name)


register()
