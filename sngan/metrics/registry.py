"""The metric registry: each metric is one registered class with its own frozen options (parsed from its part of
the metrics group: the group's own keys, or a sub-node such as metrics.modes) and its own schedule key
`metrics.every.<name>`. The entries live in their own modules (sigma, modes, image_quality, memorization); the
package imports them, this module imports none of them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

METRICS: dict[str, type["Metric"]] = {}


def register_metric(name: str) -> Callable[[type["Metric"]], type["Metric"]]:
    def add(cls: type["Metric"]) -> type["Metric"]:
        if name in METRICS:
            raise ValueError(f"metric '{name}' is registered twice")
        cls.name = name
        METRICS[name] = cls
        return cls
    return add


@dataclass(frozen=True)
class MetricEnv:
    """What every entry may know about the run besides its own options."""

    dataset: object           # sngan.data.options.ImageDataset or PointDataset
    shape: object             # sngan.gan.archs.ModelShape
    seed: int                 # the run's seed
    norm: str                 # D's norm, for the records
    device: torch.device


@dataclass
class MetricContext:
    """What an evaluation may read at one step."""

    step: int
    G: nn.Module              # the generator measured (plain, fp32): its EMA copy when the run keeps one
    generator_name: str       # "G" or "G_ema", for the protocol
    D: nn.Module
    logger: object            # run.logger.RunLogger (histograms, text)
    run: object               # run.layout.RunFolder (metrics.jsonl, spectra.jsonl)


@dataclass(frozen=True)
class NoOptions:
    """An entry without options of its own."""


class Metric:
    """A registered metric. `applies` says whether it runs for this run at all."""

    name = ""
    at_start = False          # also measured before the first step (step 0) of a fresh run
    Options: type = NoOptions
    node = None               # the sub-node of the metrics group holding its options (None: it has none)

    @classmethod
    def parse_options(cls, metrics_node):
        """Its options from the composed metrics group (entries reading the group's own keys override this)."""
        from ..options import parse

        if cls.node is None:
            return NoOptions()
        return parse(cls.Options, metrics_node.get(cls.node), f"metrics.{cls.node}")

    @classmethod
    def applies(cls, env: MetricEnv, options) -> bool:
        return True

    def __init__(self, env: MetricEnv, options):
        self.env, self.options, self.device = env, options, env.device

    def prepare(self, G: nn.Module, D: nn.Module) -> None:
        """Runs once when the models are built, before any speed option (compile, bf16) wraps them."""

    def __call__(self, ctx: MetricContext) -> dict[str, float]:
        raise NotImplementedError
