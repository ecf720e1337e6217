"""The dataset group's options (conf/dataset/<name>.yaml), parsed once into the one typed object every part of sngan
takes: the models (its shape), the data stream, the metrics, `sample`, `eval` and the report."""
from __future__ import annotations

import os
from dataclasses import dataclass

from ..errors import ConfigError, DataError
from ..options import parse

IMAGE_FORMATS = ("digits", "mnist", "fashion_mnist", "cifar10", "stl10", "folder")  # which reader (data/readers.py)
IN_MEMORY = (True, False, "auto")


@dataclass(frozen=True)
class ImageDataset:
    name: str               # in run folders and metric tags (FID_<name> with the classifier)
    kind: str               # images
    format: str             # the reader: digits, mnist, fashion_mnist, cifar10, stl10, folder
    root: str | None        # where its files are (null: data/<name>, then system_root; digits: nothing to read)
    system_root: str | None  # where a system package installs it (Debian's dataset-fashion-mnist), read when root is null
    resolution: int
    channels: int
    num_classes: int | None  # 0: unlabeled; null (folders): one class per sub-folder, 0 when flat
    metric_features: str    # IS/FID/KID features under metrics.extractor=auto: inception, or classifier (trained on it)
    download: bool          # fetch missing files (torchvision)
    dequantize: bool        # uniform noise in each intensity step (sngan_projection's CIFAR-10 loader)
    in_memory: bool | str   # held as one uint8 tensor: true, false, or auto (when it fits in memory_budget_gb)
    memory_budget_gb: float  # in_memory=auto: the most decoded images held in memory
    hflip: bool             # random horizontal flips
    steps: int              # the dataset's usual run length (train.steps defaults to it)

    points = False

    @property
    def labelled(self) -> bool:
        """Two or more classes: conditional models and the classifier metrics need them."""
        return (self.num_classes or 0) >= 2

    @property
    def download_root(self) -> str:
        """Where missing files are downloaded to: dataset.root, else data/<name> in the working folder."""
        return os.path.expanduser(self.root) if self.root else os.path.join("data", self.name)


@dataclass(frozen=True)
class PointDataset:
    name: str
    kind: str               # points
    num_classes: int        # 0
    steps: int

    points = True
    labelled = False


KINDS = {"images": ImageDataset, "points": PointDataset}
Dataset = ImageDataset | PointDataset


def parse_dataset(node) -> Dataset:
    """The dataset options of the composed `dataset` node (an already parsed one passes through); a folder dataset's
    classes are read from its sub-folders here, so every reader of the options sees the same number."""
    if isinstance(node, (ImageDataset, PointDataset)):
        return node
    kind = str(node.get("kind"))
    if kind not in KINDS:
        raise ConfigError(f"unknown dataset.kind '{kind}': choose one of {', '.join(KINDS)}")
    options = parse(KINDS[kind], node, "dataset")
    if options.num_classes is not None and options.num_classes < 0:
        raise ConfigError(f"dataset.num_classes must be >= 0, got {options.num_classes}")
    if kind == "points":
        return options
    if options.format not in IMAGE_FORMATS:
        raise ConfigError(f"unknown dataset.format '{options.format}': choose one of {', '.join(IMAGE_FORMATS)}")
    if options.resolution < 8:
        raise ConfigError(f"dataset.resolution must be >= 8, got {options.resolution}")
    if options.channels not in (1, 3):
        raise ConfigError(f"dataset.channels must be 1 or 3, got {options.channels}")
    if options.metric_features not in ("inception", "classifier"):
        raise ConfigError(f"dataset.metric_features must be inception or classifier, got {options.metric_features!r}")
    if options.in_memory not in IN_MEMORY:
        raise ConfigError(f"dataset.in_memory must be true, false or auto, got {options.in_memory!r}")
    if options.memory_budget_gb <= 0:
        raise ConfigError(f"dataset.memory_budget_gb must be > 0, got {options.memory_budget_gb}")
    if options.format == "folder":
        return _folder_options(options)
    if options.num_classes is None:
        raise ConfigError(f"dataset.num_classes must be a whole number for dataset={options.name}, got null")
    return options


def _folder_options(options: ImageDataset) -> ImageDataset:
    """A folder dataset's classes: as given (checked against the folder when it is read), else counted here, one per
    sub-folder holding images (0 when flat). Models can so be built without the data (ImageNet's 1000 classes)."""
    import dataclasses

    from .folder import scan_classes

    if options.num_classes is not None:
        return options
    if not options.root:
        raise DataError(f"dataset={options.name} needs a folder of images: pass dataset.root=DIR (flat, or one "
                        f"sub-folder per class)")
    root = os.path.abspath(os.path.expanduser(options.root))
    if not os.path.isdir(root):
        raise DataError(f"dataset.root={options.root} is not a folder ({root} does not exist): pass dataset.root=DIR "
                        f"to a folder of images")
    return dataclasses.replace(options, num_classes=len(scan_classes(root)))
