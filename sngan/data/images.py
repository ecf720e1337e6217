"""Image datasets as uint8: each yields (C, H, W) uint8 tensors at the configured resolution and a label.

`load_images(dataset, split)` is the one entry: the fixed formats (data/readers.py) come back as one in-memory
tensor (TensorImages); a folder (data/folder.py) too when it fits in memory, else decoded per access. A dataset is
read once per process (training, the metrics classifier, the reference and the memorization check share it).
"""
from __future__ import annotations

import os
import sys

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from ..errors import ConfigError, DataError
from . import readers
from .folder import FolderImages
from .options import parse_dataset

_LOADED: dict[tuple, Dataset] = {}


class TensorImages(Dataset):
    """Images held as one uint8 tensor (N, C, H, W) with int64 labels (N,)."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor):
        assert images.dtype == torch.uint8 and images.dim() == 4
        self.images, self.labels = images, labels

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return self.images[i], int(self.labels[i])


def _resize_uint8(images: torch.Tensor, size: int) -> torch.Tensor:
    """Antialiased bilinear resize of a uint8 batch, back to uint8."""
    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    out = F.interpolate(images.float(), size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return out.round().clamp(0, 255).to(torch.uint8)


def _folder(dataset) -> Dataset:
    if not dataset.root:
        raise DataError(f"dataset={dataset.name} needs a folder of images: pass dataset.root=DIR (flat, or one "
                        f"sub-folder per class)")
    data = FolderImages(dataset.root, dataset.resolution, dataset.channels)
    if len(data.classes) != dataset.num_classes:
        raise DataError(f"dataset.num_classes={dataset.num_classes} but {data.root} has {len(data.classes)} class "
                        f"sub-folders: pass dataset.num_classes=null to take them from the folder")
    size = data.decoded_bytes(dataset.resolution, dataset.channels)
    budget = dataset.memory_budget_gb * 2 ** 30
    if dataset.in_memory is True or (dataset.in_memory == "auto" and size <= budget):
        images, labels = data.decode_all()
        print(f"dataset {dataset.name}: {len(images)} images from {data.root} decoded once and held in memory "
              f"({size / 2 ** 20:.0f} MiB)", file=sys.stderr)
        return TensorImages(images, labels)
    if dataset.in_memory == "auto":
        print(f"dataset {dataset.name}: {len(data)} images from {data.root} take {size / 2 ** 30:.1f} GiB decoded, "
              f"over dataset.memory_budget_gb={dataset.memory_budget_gb:g}: decoded per batch by loader workers",
              file=sys.stderr)
    return data


def _fixed(dataset, split: str) -> TensorImages:
    if split not in readers.SPLITS[dataset.format]:
        raise DataError(f"{dataset.name} has no {split} split (it has {', '.join(readers.SPLITS[dataset.format])})")
    if dataset.format == "stl10":
        images, labels = readers.read_stl10(dataset, split, lambda x: _resize_uint8(x, dataset.resolution))
    else:
        read = {"digits": readers.read_digits, "mnist": readers.read_idx_set, "fashion_mnist": readers.read_idx_set,
                "cifar10": readers.read_cifar10}[dataset.format]
        images, labels = read(dataset, split)
    images = _resize_uint8(images, dataset.resolution)
    if images.shape[1] != dataset.channels:
        raise ConfigError(f"dataset.channels={dataset.channels} but {dataset.name} has {images.shape[1]}: "
                          f"fix dataset.channels")
    return TensorImages(images, labels)


def load_images(dataset, split: str = "train") -> Dataset:
    """The images of `dataset` (sngan.data.options.ImageDataset, or its config node) at its resolution, read once
    per process."""
    dataset = parse_dataset(dataset)
    key = (dataset.format, dataset.name, os.path.abspath(dataset.download_root), dataset.system_root, dataset.resolution, dataset.channels, split,
           dataset.in_memory, dataset.memory_budget_gb)
    if key not in _LOADED:
        if dataset.format == "folder":
            if split != "train":
                raise DataError(f"a folder dataset has one split (train), not {split}")
            _LOADED[key] = _folder(dataset)
        else:
            _LOADED[key] = _fixed(dataset, split)
    return _LOADED[key]


def forget_loaded() -> None:
    """Read every dataset afresh on its next load (its files changed)."""
    _LOADED.clear()


def held_in_memory(data: Dataset) -> bool:
    return isinstance(data, TensorImages)


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float [-1, 1], the range of G's tanh output."""
    return images.float().div_(127.5).sub_(1.0)


def dequantized(images: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float [-1, 1) with uniform noise filling each intensity step, as sngan_projection's CIFAR-10
    loader (datasets/cifar10.py lines 20-21: x / 128 - 1 + U(0, 1/128)); `noise` ~ U(0, 1) of the images' shape."""
    return images.float().div_(128.0).sub_(1.0).add_(noise.div(128.0))


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """G's images in [-1, 1] -> uint8 [0, 255], rounded as torchvision's save_image rounds (so a PNG grid, a sample
    folder and the images the metrics see hold the same values)."""
    return images.float().add(1).div(2).clamp(0, 1).mul(255).add(0.5).to(torch.uint8)
