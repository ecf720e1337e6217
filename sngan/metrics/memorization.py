"""Does the generator copy its training set? For generated images, the distance to the nearest training image,
measured against how close real training images are to each other (leave-one-out nearest neighbours):

- metrics/memorization_ratio: median over generated images of the nearest-training-image distance, divided by the
  median leave-one-out nearest-neighbour distance of real training images. About 1: generated images sit as far
  from the training set as its own images sit from each other; well below 1: they sit on training images.
- metrics/near_copies: the share of generated images closer to a training image than the 1st percentile of the
  real leave-one-out distances (1%: what chance gives a real image; far more: copies).

Distances are Euclidean in pixel space ([-1, 1] per pixel), where a copy is a copy whatever a feature extractor
sees. Registered as `memorization`, on by default for every image dataset held in memory (metrics.memorization.enabled:
auto, with metrics.enabled), also in `sngan eval`; a dataset read from disk per batch is searched through a fixed seeded
subset of metrics.memorization.max_train images.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..data import streams
from ..data.images import held_in_memory, load_images, to_float
from ..errors import ConfigError
from ..gan.generate import Latents, generate
from .registry import Metric, MetricContext, register_metric

ENABLED = ("auto", "true", "false")


@dataclass(frozen=True)
class MemorizationOptions:
    enabled: str | bool           # auto (on for datasets held in memory), true, false
    num_samples: int              # generated images, and real images whose leave-one-out distance is measured
    max_train: int                # training images searched at most (a fixed seeded subset of a larger set)
    seed: int                     # noise of the generated images and the real subset

    def on_for(self, dataset) -> bool:
        value = str(self.enabled).lower()
        if value not in ENABLED:
            raise ConfigError(f"metrics.memorization.enabled must be auto, true or false, got {self.enabled!r}")
        return not dataset.points and (value == "true" or (value == "auto" and dataset.in_memory is not False))


def training_pixels(dataset, max_train: int, seed: int) -> torch.Tensor:
    """The training images as (N, C*H*W) floats in [-1, 1]: all of them, or a fixed seeded subset of max_train."""
    train = load_images(dataset, "train")
    if len(train) <= max_train:
        keep = None
    else:
        keep = torch.randperm(len(train), generator=streams.generator(seed, streams.MEMORIZATION, 1))[:max_train]
    if held_in_memory(train):
        images = train.images if keep is None else train.images[keep]
    else:
        images = torch.stack([train[i][0] for i in (range(len(train)) if keep is None else keep.tolist())])
    return to_float(images).flatten(1)


def nearest_distances(queries: torch.Tensor, references: torch.Tensor, exclude_self: bool = False,
                      chunk: int = 1024) -> torch.Tensor:
    """For each row of `queries` (N, P), the Euclidean distance to its nearest row of `references` (M, P); with
    exclude_self, queries are references[:N] and a row's own distance is left out (leave-one-out)."""
    out = []
    ref_sq = references.pow(2).sum(1)
    for start in range(0, len(queries), chunk):
        q = queries[start:start + chunk]
        d2 = q.pow(2).sum(1, keepdim=True) + ref_sq[None, :] - 2.0 * q @ references.t()
        if exclude_self:
            rows = torch.arange(len(q))
            d2[rows, rows + start] = float("inf")
        out.append(d2.clamp_min(0).min(dim=1).values.sqrt())
    return torch.cat(out)


@torch.no_grad()
def memorization(G, shape, dataset, options: MemorizationOptions, device: torch.device) -> tuple[dict, dict]:
    """({metrics/memorization_ratio, metrics/near_copies}, protocol) for G against dataset's training images."""
    real = training_pixels(dataset, options.max_train, options.seed)
    n = min(options.num_samples, len(real))
    subset = torch.randperm(len(real), generator=streams.generator(options.seed, streams.MEMORIZATION))[:n]
    rest = torch.ones(len(real), dtype=torch.bool)
    rest[subset] = False
    order = torch.cat([subset, rest.nonzero().squeeze(1)])
    real = real[order]  # the measured real images first, so leave-one-out can skip each one's own row
    real_nn = nearest_distances(real[:n], real, exclude_self=True)
    latents = Latents(options.seed, shape.z_dim, shape.num_classes, shape.latent)
    z = latents.noise(options.num_samples, "cpu", streams.MEMORIZATION)
    y = latents.labels(options.num_samples, "cpu", streams.MEMORIZATION)
    fakes = generate(G, z, y, device)
    fake_nn = nearest_distances(fakes.clamp(-1, 1).flatten(1), real)
    threshold = torch.quantile(real_nn, 0.01)
    values = {"metrics/memorization_ratio": float(fake_nn.median() / real_nn.median().clamp_min(1e-12)),
              "metrics/near_copies": float((fake_nn < threshold).double().mean())}
    protocol = {"generated": len(fakes), "real_leave_one_out": n, "training_images": len(real),
                "space": "pixels in [-1, 1], Euclidean", "real_nn_median": float(real_nn.median()),
                "real_nn_p01": float(threshold), "generated_nn_median": float(fake_nn.median())}
    return values, protocol


@register_metric("memorization")
class Memorization(Metric):
    node = "memorization"
    Options = MemorizationOptions

    @classmethod
    def parse_options(cls, metrics_node):
        """metrics.memorization, off with the other image metrics when metrics.enabled is false."""
        import dataclasses

        options = super().parse_options(metrics_node)
        return options if metrics_node.get("enabled", True) else dataclasses.replace(options, enabled=False)

    @classmethod
    def applies(cls, env, options) -> bool:
        return options.on_for(env.dataset)

    def __init__(self, env, options):
        super().__init__(env, options)
        if options.num_samples < 2:
            raise ConfigError(f"metrics.memorization.num_samples must be >= 2, got {options.num_samples}")
        if options.max_train < 2:
            raise ConfigError(f"metrics.memorization.max_train must be >= 2, got {options.max_train}")

    def __call__(self, ctx: MetricContext) -> dict[str, float]:
        values, protocol = memorization(ctx.G, self.env.shape, self.env.dataset, self.options, self.device)
        ctx.run.append_jsonl(ctx.run.metrics, {"step": int(ctx.step), "metrics": values,
                                               "protocol": {"memorization": protocol, "generator": ctx.generator_name}})
        return values
