"""The run folder's layout, owned here: every other module asks a RunFolder for its paths.

    <run>/checkpoints/ckpt_<step>.pt   full training state (newest few kept; see run.checkpoints)
    <run>/samples/step_<step>.png      fixed-noise sample grid (2-D runs: a scatter plot)
    <run>/samples/class_<c>/step_<step>.png   per-class grids of conditional runs
    <run>/tb/                          TensorBoard events
    <run>/scalars.jsonl                every logged scalar: {"step", "tag", "value"}
    <run>/metrics.jsonl                each IS/FID/KID evaluation with its protocol
    <run>/spectra.jsonl                singular values of D's layers at each sigma report
    <run>/run.yaml                     the run's record: its resolved config, written once when it starts
"""
from __future__ import annotations

import glob
import json
import os
import re

from ..errors import ConfigError
from ..fsutil import append_whole, atomic_write

CKPT_RE = re.compile(r"ckpt_(\d{9})\.pt$")
JSONL_LOGS = ("scalars.jsonl", "metrics.jsonl", "spectra.jsonl")


class RunFolder:
    def __init__(self, root: str):
        self.root = os.path.abspath(str(root))

    # ---- paths -------------------------------------------------------------------------------------
    @property
    def checkpoints(self) -> str:
        return os.path.join(self.root, "checkpoints")

    def checkpoint(self, step: int) -> str:
        return os.path.join(self.checkpoints, f"ckpt_{step:09d}.pt")

    @property
    def samples(self) -> str:
        return os.path.join(self.root, "samples")

    def sample_grid(self, step: int) -> str:
        return os.path.join(self.samples, f"step_{step:09d}.png")

    def class_grid(self, label: int, step: int) -> str:
        return os.path.join(self.samples, f"class_{label:04d}", f"step_{step:09d}.png")

    @property
    def tensorboard(self) -> str:
        return os.path.join(self.root, "tb")

    @property
    def scalars(self) -> str:
        return os.path.join(self.root, "scalars.jsonl")

    @property
    def metrics(self) -> str:
        return os.path.join(self.root, "metrics.jsonl")

    @property
    def spectra(self) -> str:
        return os.path.join(self.root, "spectra.jsonl")

    @property
    def record(self) -> str:
        return os.path.join(self.root, "run.yaml")

    @property
    def hydra_config(self) -> str:
        """Where runs made by sngan < 0.2 kept their config (Hydra's record, rewritten by every later command)."""
        return os.path.join(self.root, ".hydra", "config.yaml")

    # ---- contents ----------------------------------------------------------------------------------
    def check_creatable(self) -> None:
        """ConfigError naming the fix when the folder cannot be created or written; creates nothing."""
        probe = self.root
        while not os.path.exists(probe):
            probe = os.path.dirname(probe)
        problem = None
        if not os.path.isdir(probe):
            problem = f"{probe} is a file, not a folder"
        elif not os.access(probe, os.W_OK | os.X_OK):
            problem = f"{probe} is not writable"
        if problem:
            raise ConfigError(f"cannot write the run folder {self.root}: {problem}; pass hydra.run.dir=PATH to a "
                              f"writable folder")

    def create(self, config: dict | None = None) -> "Created":
        """Make the folder (and samples/) and, given a config, write the run's record; returns what did not exist
        before, so a start that fails can take exactly that away again."""
        created = Created.before(self.root)
        try:
            os.makedirs(self.samples, exist_ok=True)
            if config is not None:
                import yaml

                atomic_write(self.record, lambda f: yaml.safe_dump(config, f, sort_keys=False), mode="w")
        except OSError as e:
            created.undo()
            raise ConfigError(f"cannot write the run folder {self.root} ({e.strerror}): pass hydra.run.dir=PATH "
                              f"to a writable folder") from None
        return created

    def list_checkpoints(self) -> list[str]:
        return list_checkpoints(self.root)

    def append_jsonl(self, path: str, record: dict) -> None:
        append_whole(path, json.dumps(record) + "\n")

    def rewind(self, step: int) -> None:
        """Drop log records past `step`: a killed run may have logged after its last checkpoint, and
        the resumed run logs those steps again."""
        for name in JSONL_LOGS:
            rewind_jsonl(os.path.join(self.root, name), step)


def list_checkpoints(run_dir_or_ckpt_dir: str) -> list[str]:
    """Finished checkpoints of a run folder (or its checkpoints/ folder), newest first; temp files from an
    interrupted write are ignored."""
    d = run_dir_or_ckpt_dir
    if os.path.isdir(os.path.join(d, "checkpoints")):
        d = os.path.join(d, "checkpoints")
    paths = [p for p in glob.glob(os.path.join(d, "ckpt_*.pt")) if CKPT_RE.search(p)]
    return sorted(paths, key=lambda p: int(CKPT_RE.search(p).group(1)), reverse=True)


def rewind_jsonl(path: str, step: int) -> None:
    """Drop records past `step`, so a resumed run's log holds each step once. Rewritten atomically; a torn
    last line is dropped too."""
    if not os.path.exists(path):
        return
    keep, changed = [], False
    with open(path) as f:
        for line in f:
            try:
                ok = int(json.loads(line)["step"]) <= step
            except (ValueError, KeyError, TypeError):
                ok = False
            if ok:
                keep.append(line)
            changed |= not ok
    if changed:
        atomic_write(path, lambda f: f.writelines(keep), mode="w", durable=False)


def read_jsonl(path: str) -> list[dict]:
    """The records of a JSONL log (a torn last line from a killed run is skipped); [] when absent."""
    rows = []
    if not os.path.exists(path):
        return rows
    with open(path) as f:
        for line in f:
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return rows


class Created:
    """What a start added under a path: the folders that did not exist (topmost first) or, in a folder that did,
    the entries that were not there. undo() removes exactly those, nothing the user had."""

    def __init__(self, root: str, new_dirs: list[str], existing: set[str] | None):
        self.root, self.new_dirs, self.existing = root, new_dirs, existing

    @classmethod
    def before(cls, root: str) -> "Created":
        new_dirs, probe = [], root
        while not os.path.exists(probe):
            new_dirs.insert(0, probe)
            probe = os.path.dirname(probe)
        return cls(root, new_dirs, None if new_dirs else set(os.listdir(root)))

    def undo(self) -> None:
        import shutil

        if self.new_dirs:
            shutil.rmtree(self.new_dirs[0], ignore_errors=True)
            return
        for name in set(os.listdir(self.root)) - (self.existing or set()):
            path = os.path.join(self.root, name)
            shutil.rmtree(path, ignore_errors=True) if os.path.isdir(path) else os.remove(path)
