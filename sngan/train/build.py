"""The real data the loop trains on: the dataset loaded once (checked at start-up) and the resumable stream of
its batches."""
from __future__ import annotations

import os

import torch

from ..data.batches import BatchStream
from ..data.images import load_images
from ..data.points import PointStream, mixture
from ..errors import ConfigError


def load_dataset(dataset, batch_size: int):
    """The training images (uint8, sngan.data.images), or None for the 2-D mixtures; the start-up check that the data
    is there, readable and large enough for one batch."""
    if dataset.points:
        mixture(dataset.name)
        return None
    data = load_images(dataset)
    if batch_size > len(data):
        raise ConfigError(f"batch_size={batch_size} exceeds the dataset's {len(data)} images: lower batch_size")
    return data


def build_stream(data, dataset, batch_size: int, seed: int, device: torch.device, start: int, par,
                 num_workers: int | None, data_on_device: bool):
    """The endless stream of real batches (2-D points or images), positioned at batch `start`, this rank's
    share of each global batch under torchrun."""
    if dataset.points:
        return par.shard_stream(PointStream(dataset.name, batch_size, seed, device, start=start))
    if num_workers is None:  # one loader process per core, up to 8 (only datasets not held in memory use them)
        num_workers = min(8, os.cpu_count() or 1)
    return BatchStream(data, batch_size, seed, dataset.hflip, device, num_workers=num_workers, start=start,
                       rank=par.rank, world=par.world, on_device=data_on_device, in_memory=dataset.in_memory)
