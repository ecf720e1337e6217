"""One tag vocabulary, written to TensorBoard (<run_dir>/tb) and <run_dir>/scalars.jsonl alike."""
from __future__ import annotations

import json

import torch

from .layout import RunFolder, read_jsonl


class RunLogger:
    """Scalars to TB and JSONL; images and histograms to TB. A no-op on ranks other than 0."""

    def __init__(self, run: RunFolder, enabled: bool = True, purge_step: int | None = None):
        self.enabled = enabled
        self.writer = self.jsonl = None
        if enabled:
            from torch.utils.tensorboard import SummaryWriter

            # purge_step: TB hides events at or after it that an earlier (killed) writer left behind
            self.writer = SummaryWriter(run.tensorboard, purge_step=purge_step)
            self.jsonl = open(run.scalars, "a", buffering=1)

    def scalars(self, step: int, values: dict[str, float]) -> None:
        if not self.enabled:
            return
        for tag, value in values.items():
            value = float(value)
            self.writer.add_scalar(tag, value, step)
            self.jsonl.write(json.dumps({"step": int(step), "tag": tag, "value": value}) + "\n")

    def image(self, step: int, tag: str, grid: torch.Tensor) -> None:
        if self.enabled:
            self.writer.add_image(tag, grid, step)

    def histogram(self, step: int, tag: str, values: torch.Tensor) -> None:
        if self.enabled:
            self.writer.add_histogram(tag, values, step)

    def text(self, tag: str, text: str) -> None:
        if self.enabled:
            self.writer.add_text(tag, text)

    def custom_scalars(self, layout: dict) -> None:
        """Charts that overlay several tags (TensorBoard's Custom Scalars tab)."""
        if self.enabled:
            self.writer.add_custom_scalars(layout)

    def hparams(self, hparams: dict, metrics: dict) -> None:
        if self.enabled:
            self.writer.add_hparams(hparams, metrics, run_name=".")

    def close(self) -> None:
        if self.enabled:
            self.writer.close()
            self.jsonl.close()
            self.enabled = False


def read_scalars(path: str) -> list[dict]:
    """The records of a scalars.jsonl file (a torn last line from a killed run is skipped)."""
    return read_jsonl(path)


def last_values(rows: list[dict], prefix: str = "") -> dict[str, tuple[int, float]]:
    """Last logged (step, value) of every tag starting with prefix, from read_scalars' records."""
    return {r["tag"]: (r["step"], r["value"]) for r in rows if r["tag"].startswith(prefix)}
