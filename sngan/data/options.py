"""The dataset group's options (conf/dataset/<name>.yaml), parsed once: image datasets and 2-D mixtures."""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError
from ..options import parse


@dataclass(frozen=True)
class ImageDataset:
    name: str
    kind: str               # images
    root: str | None        # where its files are (null: nothing to read, e.g. digits)
    resolution: int
    channels: int
    num_classes: int        # 0: unlabeled
    download: bool          # fetch missing files (torchvision)
    dequantize: bool        # uniform noise in each intensity step (sngan_projection's CIFAR-10 loader)
    in_memory: bool         # held as one uint8 tensor
    hflip: bool             # random horizontal flips
    steps: int              # the dataset's usual run length (train.steps defaults to it)

    points = False


@dataclass(frozen=True)
class PointDataset:
    name: str
    kind: str               # points
    num_classes: int        # 0
    steps: int

    points = True


KINDS = {"images": ImageDataset, "points": PointDataset}


def parse_dataset(node) -> ImageDataset | PointDataset:
    """The dataset options of the composed `dataset` node."""
    kind = str(node.get("kind"))
    if kind not in KINDS:
        raise ConfigError(f"unknown dataset.kind '{kind}': choose one of {', '.join(KINDS)}")
    options = parse(KINDS[kind], node, "dataset")
    if kind == "images" and options.resolution < 8:
        raise ConfigError(f"dataset.resolution must be >= 8, got {options.resolution}")
    if kind == "images" and options.channels not in (1, 3):
        raise ConfigError(f"dataset.channels must be 1 or 3, got {options.channels}")
    if options.num_classes < 0:
        raise ConfigError(f"dataset.num_classes must be >= 0, got {options.num_classes}")
    return options
