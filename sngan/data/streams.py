"""Named random streams: every random draw that must repeat on resume comes from one of these.

A stream is a CPU torch.Generator seeded by (seed, stream id, *keys), e.g. the noise of D step i at G
step k is `generator(seed, NOISE, k, i)`. Draws are pure functions of their keys, never of how many
draws came before, so a run resumed at any step sees what an uninterrupted run would. The ids are part
of every saved run's meaning: never renumber them.
"""
from __future__ import annotations

import torch

DATA_ORDER = 1          # the permutation of each epoch (data.batches.BatchPlan)
FLIPS = 2               # horizontal-flip masks of each batch
NOISE = 3               # G's latents of each D and G step; key -1 the fixed sample grid, -2 `sngan sample`
LABELS = 4              # class labels of conditional fakes
POINTS = 5              # 2-D mixture training batches (data.points.PointStream)
POINTS_EVAL = 6         # fixed latents of the 2-D mode metrics and scatter plots
CLASSIFIER_HOLDOUT = 7  # the held-out share of digits for the metrics classifier
CLASSIFIER_BATCHES = 8  # the metrics classifier's training batches
METRIC_LABELS = 9       # labels of conditional samples for IS/FID/KID
REFERENCE_SUBSET = 10   # the fixed subset of a large reference split
REAL_HALF = 11          # the random split of a metric reference into halves (metrics.reference)
GP_MIX = 17             # interpolation weights of the gradient penalty (norm=gp)
DEQUANTIZE = 18         # dequantization noise of real images (dataset.dequantize)
MEMORIZATION = 19       # noise and real subset of the memorization metric
LIPSCHITZ = 20          # the start vector of each conv layer's operator-norm iteration at each sigma report
CLASSES = 21            # noise and labels of the class-coverage metric


def generator(*keys: int) -> torch.Generator:
    """A CPU generator seeded by a tuple of ints, e.g. generator(seed, NOISE, step, i)."""
    g = torch.Generator()
    seed = 0
    for k in keys:
        seed = (seed * 1_000_003 + int(k)) % (2 ** 63 - 1)
    return g.manual_seed(seed)


def to_device(t: torch.Tensor, device) -> torch.Tensor:
    """A CPU draw moved to `device` without blocking the host: on CUDA through pinned memory with
    non_blocking=True (the copy is queued behind the GPU's work, no host sync); a no-op on the CPU."""
    device = torch.device(device)
    if device.type != "cuda":
        return t.to(device)
    return t.pin_memory().to(device, non_blocking=True)
