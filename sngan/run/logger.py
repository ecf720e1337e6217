"""One tag vocabulary, written to TensorBoard (<run_dir>/tb) and <run_dir>/scalars.jsonl alike."""
from __future__ import annotations

import json

import torch

from ..fsutil import append_whole, writing
from .layout import RunFolder, read_jsonl


class RunLogger:
    """Scalars to TB and JSONL; images and histograms to TB. A no-op on ranks other than 0. A write the disk refuses
    (TensorBoard's writer thread reports it at the next call) is a DiskError naming the file; a JSONL line is written
    whole or not at all."""

    def __init__(self, run: RunFolder, enabled: bool = True, purge_step: int | None = None):
        self.enabled, self.run = enabled, run
        self.writer = None
        if enabled:
            from torch.utils.tensorboard import SummaryWriter

            # purge_step: TB hides events at or after it that an earlier (killed) writer left behind
            with writing(run.tensorboard):
                self.writer = SummaryWriter(run.tensorboard, purge_step=purge_step)

    def _tb(self, method: str, *args, **kwargs) -> None:
        with writing(self.run.tensorboard):
            getattr(self.writer, method)(*args, **kwargs)

    def scalars(self, step: int, values: dict[str, float]) -> None:
        if not self.enabled:
            return
        lines = []
        for tag, value in values.items():
            value = float(value)
            self._tb("add_scalar", tag, value, step)
            lines.append(json.dumps({"step": int(step), "tag": tag, "value": value}) + "\n")
        append_whole(self.run.scalars, "".join(lines))

    def image(self, step: int, tag: str, grid: torch.Tensor) -> None:
        if self.enabled:
            self._tb("add_image", tag, grid, step)

    def histogram(self, step: int, tag: str, values: torch.Tensor) -> None:
        if self.enabled:
            self._tb("add_histogram", tag, values, step)

    def text(self, tag: str, text: str) -> None:
        if self.enabled:
            self._tb("add_text", tag, text)

    def custom_scalars(self, layout: dict) -> None:
        """Charts that overlay several tags (TensorBoard's Custom Scalars tab)."""
        if self.enabled:
            self._tb("add_custom_scalars", layout)

    def hparams(self, hparams: dict, metrics: dict) -> None:
        if self.enabled:
            self._tb("add_hparams", hparams, metrics, run_name=".")

    def close(self) -> None:
        if self.enabled:
            self.enabled = False
            self._tb("close")


def read_scalars(path: str) -> list[dict]:
    """The records of a scalars.jsonl file (a torn last line from a killed run is skipped)."""
    return read_jsonl(path)


def last_values(rows: list[dict], prefix: str = "") -> dict[str, tuple[int, float]]:
    """Last logged (step, value) of every tag starting with prefix, from read_scalars' records."""
    return {r["tag"]: (r["step"], r["value"]) for r in rows if r["tag"].startswith(prefix)}
