"""A run's identity and final metrics for TensorBoard's HParams tab (compare sweep runs)."""
from __future__ import annotations

from .layout import RunFolder
from .logger import last_values, read_scalars


def final_values(run: RunFolder) -> dict[str, float]:
    """Last logged value of every tag in the run's scalars.jsonl."""
    return {tag: value for tag, (_, value) in last_values(read_scalars(run.scalars)).items()}


def final_metrics(run: RunFolder) -> dict[str, float]:
    """The final metrics/* values and losses, under hparam/<name> so the curves themselves stay untouched
    (add_hparams writes each metric as a scalar of its own)."""
    values = final_values(run)
    out = {f"hparam/{tag.split('/', 1)[1]}": v for tag, v in values.items() if tag.startswith("metrics/")}
    for tag in ("loss/D", "loss/G"):
        if tag in values:
            out[f"hparam/{tag.replace('/', '_')}"] = values[tag]
    return out


def log_hparams(logger, hparams: dict, run: RunFolder) -> None:
    """Write the hparams record once a run ends (the metrics it shows are the run's final ones); `hparams` is
    sngan.run.identity.hparams of the run's config."""
    metrics = final_metrics(run)
    if metrics:
        logger.hparams(hparams, metrics)
