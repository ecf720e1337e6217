"""The metrics of one run, each on its schedule: built once before training (so a missing Inception file or an
unusable dataset fails before any step), called by the loop's bookkeeping once per step; an entry runs when its
schedule is due and at the last step, and returns scalars by log tag, which the runner logs."""
from __future__ import annotations

from torch import nn

from ..errors import ConfigError
from .registry import METRICS, Metric, MetricContext, MetricEnv


def plan_metrics(metrics_node, env: MetricEnv) -> list[tuple[Metric, int]]:
    """(entry, every) for every registered metric that applies to this run, options parsed from the metrics node."""
    every = metrics_node.get("every") or {}
    planned = []
    for name, cls in METRICS.items():
        options = cls.parse_options(metrics_node)
        if not cls.applies(env, options):
            continue
        if name not in every:
            raise ConfigError(f"metric '{name}' has no schedule: pass metrics.every.{name}=<G updates>")
        value = every[name]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"metrics.every.{name} must be a whole number >= 1, got {value!r}")
        planned.append((cls(env, options), int(value)))
    return planned


class MetricRunner:
    """Every planned metric, each on its own schedule."""

    def __init__(self, entries: list[tuple[Metric, int]], last_step: int, writer: bool = True):
        self.entries, self.last_step, self.writer = entries, int(last_step), writer

    @property
    def references(self) -> dict[str, float]:
        """What real data scored on the metrics measured so far, by tag (entries that keep a `real` record)."""
        out = {}
        for metric, _ in self.entries:
            out.update({k: v for k, v in (getattr(metric, "real", None) or {}).items() if k.startswith("metrics/")})
        return out

    def prepare(self, G: nn.Module, D: nn.Module) -> None:
        for metric, _ in self.entries:
            metric.prepare(G, D)

    def due(self, step: int) -> list[Metric]:
        return [m for m, every in self.entries if step % every == 0 or step == self.last_step]

    def any_due(self, step: int) -> bool:
        return bool(self.due(step))

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
