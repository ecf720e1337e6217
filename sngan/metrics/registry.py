"""The metric registry: each metric is one registered class with its own schedule key `metrics.every.<name>`.

Entries are built once before training (so a missing Inception file or an unusable dataset fails before
any step), and the training loop calls MetricRunner once per step; an entry runs when its schedule is due
and at the last step. Entries return scalars by log tag; the runner logs them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from ..errors import ConfigError

METRICS: dict[str, type["Metric"]] = {}


def register_metric(name: str) -> Callable[[type["Metric"]], type["Metric"]]:
    def add(cls: type["Metric"]) -> type["Metric"]:
        cls.name = name
        METRICS[name] = cls
        return cls
    return add


@dataclass
class MetricContext:
    """What an evaluation may read at one step."""

    step: int
    G: nn.Module              # the generator measured: its EMA copy when the run keeps one
    generator_name: str       # "G" or "G_ema", for the protocol
    D: nn.Module
    logger: object            # run.logger.RunLogger (histograms, text)
    run: object               # run.layout.RunFolder (metrics.jsonl, spectra.jsonl)


class Metric:
    """A registered metric. `applies` says whether it runs for this config at all."""

    name = ""
    at_start = False  # also measured before the first step (step 0) of a fresh run

    @staticmethod
    def applies(cfg) -> bool:
        return True

    def __init__(self, cfg, device: torch.device):
        self.device = device

    def __call__(self, ctx: MetricContext) -> dict[str, float]:
        raise NotImplementedError


class MetricRunner:
    """Every registered metric that applies to the config, each on its own schedule."""

    def __init__(self, cfg, device: torch.device, last_step: int, writer: bool = True):
        from . import fidelity, modes, sigma  # noqa: F401  (each registers its entries)

        every = cfg.metrics.get("every", {})
        self.entries: list[tuple[Metric, int]] = []
        for name, cls in METRICS.items():
            if not cls.applies(cfg):
                continue
            if name not in every:
                raise ConfigError(f"metric '{name}' has no schedule: pass metrics.every.{name}=<G updates>")
            self.entries.append((cls(cfg, device), int(every[name])))
        self.last_step, self.writer = int(last_step), writer

    @property
    def references(self) -> dict[str, float]:
        """What real data scored on the metrics measured so far, by tag (entries that keep a `real` record)."""
        out = {}
        for metric, _ in self.entries:
            out.update({k: v for k, v in (getattr(metric, "real", None) or {}).items() if k.startswith("metrics/")})
        return out

    def due(self, step: int) -> list[Metric]:
        return [m for m, every in self.entries if step % every == 0 or step == self.last_step]

    def at_start(self, G: nn.Module, generator_name: str, D: nn.Module, logger, run) -> dict[str, float]:
        """The entries measured at step 0 of a fresh run (at_start), logged; {} on ranks that do not write."""
        return self._run([m for m, _ in self.entries if m.at_start], 0, G, generator_name, D, logger, run)

    def __call__(self, step: int, G: nn.Module, generator_name: str, D: nn.Module, logger, run) -> dict[str, float]:
        """The due metrics' scalars, logged; {} on ranks that do not write."""
        return self._run(self.due(step), step, G, generator_name, D, logger, run)

    def _run(self, metrics, step, G, generator_name, D, logger, run) -> dict[str, float]:
        if not self.writer:
            return {}
        out = {}
        for metric in metrics:
            values = metric(MetricContext(step, G, generator_name, D, logger, run))
            logger.scalars(step, values)
            out.update(values)
        return out
