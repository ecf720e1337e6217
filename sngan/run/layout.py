"""The run folder's layout, owned here: every other module asks a RunFolder for its paths.

    <run>/checkpoints/ckpt_<step>.pt   full training state (newest few kept; see run.checkpoints)
    <run>/samples/step_<step>.png      fixed-noise sample grid (2-D runs: a scatter plot)
    <run>/samples/class_<c>/step_<step>.png   per-class grids of conditional runs
    <run>/tb/                          TensorBoard events
    <run>/scalars.jsonl                every logged scalar: {"step", "tag", "value"}
    <run>/metrics.jsonl                each IS/FID/KID evaluation with its protocol
    <run>/spectra.jsonl                singular values of D's layers at each sigma report
"""
from __future__ import annotations

import glob
import json
import os
import re

from ..errors import ConfigError

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
    def hydra_config(self) -> str:
        return os.path.join(self.root, ".hydra", "config.yaml")

    # ---- contents ----------------------------------------------------------------------------------
    def prepare(self) -> "RunFolder":
        """Create the folder and check it is writable."""
        try:
            os.makedirs(self.root, exist_ok=True)
            probe = os.path.join(self.root, ".write_test")
            with open(probe, "w") as f:
                f.write("ok")
            os.remove(probe)
        except OSError as e:
            raise ConfigError(f"cannot write the run folder {self.root} ({e.strerror}): pass hydra.run.dir=PATH "
                              f"to a writable folder") from None
        return self

    def list_checkpoints(self) -> list[str]:
        return list_checkpoints(self.root)

    def append_jsonl(self, path: str, record: dict) -> None:
        with open(path, "a") as f:
            f.write(json.dumps(record) + "\n")

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
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.writelines(keep)
        os.replace(tmp, path)


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
