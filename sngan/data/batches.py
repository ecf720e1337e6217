"""A resumable, stateless stream of training batches.

Batch order and augmentation are pure functions of (seed, batch index) (data.streams), so a run
resumed from batch k sees exactly the batches an uninterrupted run would, whatever num_workers.
Small datasets are held in memory as one uint8 tensor (optionally on the GPU); large ones go through
a DataLoader.
"""
from __future__ import annotations

import signal
from dataclasses import dataclass

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from ..errors import ConfigError
from . import streams
from .images import TensorImages


@dataclass
class BatchPlan:
    """Which samples batch k holds: a fresh permutation per epoch, shards split by rank."""

    size: int           # dataset size
    batch_size: int     # global batch size (all ranks)
    seed: int
    rank: int = 0
    world: int = 1

    def __post_init__(self):
        if self.batch_size > self.size:
            raise ConfigError(f"batch_size={self.batch_size} exceeds the dataset's {self.size} images: lower batch_size")
        self.per_epoch = self.size // self.batch_size
        self._cached_epoch, self._cached_perm = None, None

    def _permutation(self, epoch: int) -> torch.Tensor:
        # drawn once per epoch, not per batch: a randperm of ImageNet's 1.28M costs milliseconds
        if self._cached_epoch != epoch:
            self._cached_perm = torch.randperm(self.size, generator=streams.generator(self.seed, streams.DATA_ORDER, epoch))
            self._cached_epoch = epoch
        return self._cached_perm

    def indices(self, k: int) -> torch.Tensor:
        epoch, pos = divmod(k, self.per_epoch)
        batch = self._permutation(epoch)[pos * self.batch_size:(pos + 1) * self.batch_size]
        return batch[self.rank::self.world].clone()  # a copy: whoever gets it cannot alter the cache

    def flips(self, k: int) -> torch.Tensor:
        """Horizontal-flip mask for this rank's part of batch k."""
        mask = torch.rand(self.batch_size, generator=streams.generator(self.seed, streams.FLIPS, k)) < 0.5
        return mask[self.rank::self.world]


class _PlanSampler(Sampler):
    def __init__(self, plan: BatchPlan, start: int):
        self.plan, self.start = plan, start

    def __iter__(self):
        k = self.start
        while True:
            yield self.plan.indices(k).tolist()
            k += 1


def _ignore_stop_signals(worker_id: int) -> None:
    """DataLoader worker init: a stop signal sent to the whole process group (Ctrl-C, a scheduler) is
    the main process's to handle at a step boundary; a worker it killed would fail the step instead."""
    for name in ("SIGINT", "SIGTERM", "SIGUSR1", "SIGUSR2"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)


class BatchStream:
    """Endless training batches (uint8 images, labels); `position` batches consumed so far."""

    def __init__(self, dataset: Dataset, batch_size: int, seed: int, hflip: bool, device: torch.device,
                 num_workers: int = 0, on_device: bool = True, rank: int = 0, world: int = 1, start: int = 0,
                 in_memory: bool = True):
        self.plan = BatchPlan(len(dataset), batch_size, seed, rank, world)
        self.hflip, self.device, self.position = hflip, device, start
        self.tensors = None
        if isinstance(dataset, TensorImages) and in_memory:  # in_memory=false: through the DataLoader
            dev = device if on_device else torch.device("cpu")
            self.tensors = (dataset.images.to(dev), dataset.labels.to(dev))
        else:
            self.loader = iter(DataLoader(
                dataset, batch_sampler=_PlanSampler(self.plan, start), num_workers=num_workers,
                pin_memory=device.type == "cuda", persistent_workers=num_workers > 0,
                worker_init_fn=_ignore_stop_signals,
                generator=torch.Generator().manual_seed(seed)))  # keeps the global RNG untouched

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        k = self.position
        if self.tensors is not None:
            idx = streams.to_device(self.plan.indices(k), self.tensors[0].device)
            x, y = self.tensors[0][idx], self.tensors[1][idx]
        else:
            x, y = next(self.loader)
        if self.device.type == "cuda" and x.device.type == "cpu" and not x.is_pinned():
            x, y = x.pin_memory(), y.pin_memory()  # a copy from pageable memory would block despite non_blocking
        x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
        if self.hflip:
            mask = streams.to_device(self.plan.flips(k), self.device)
            x = torch.where(mask[:, None, None, None], x.flip(-1), x)
        self.position += 1
        return x, y
