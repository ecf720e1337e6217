"""The readers of the fixed-format datasets, one per dataset.format, each returning (images (N, C, H, W) uint8,
labels (N,) int64) of one split at the files' own size. Every file is checked as it is read: a damaged one is a
one-line DataError naming the file and what is wrong; a missing dataset names where it was looked for, what was
found there, and the fixes."""
from __future__ import annotations

import os
import pickle

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import DataError, DownloadError
from .download import download_with
from .idx import idx_file, read_split

# format -> torchvision's class (also the folder it downloads into: <root>/<class>/raw) and a system package
IDX_SETS = {"mnist": ("MNIST", None), "fashion_mnist": ("FashionMNIST", "dataset-fashion-mnist")}
IDX_STEMS = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
             "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
SPLITS = {"mnist": ("train", "test"), "fashion_mnist": ("train", "test"), "cifar10": ("train", "test"),
          "stl10": ("train", "test"), "digits": ("train",), "folder": ("train",)}


def has_test_split(dataset) -> bool:
    return "test" in SPLITS[dataset.format]


def _fetch_hint(dataset) -> str:
    return (f"run `sngan fetch --datasets {dataset.format}` on a machine with internet and copy "
            f"{dataset.download_root} here")


def _download(dataset, torchvision_cls, **kwargs) -> None:
    try:
        download_with(torchvision_cls, dataset.download_root, dataset.name, **kwargs)
    except DownloadError as e:
        package = IDX_SETS.get(dataset.format, (None, None))[1]
        fixes = ([f"install it with `apt-get install {package}` (Debian)"] if package else []) + \
                [_fetch_hint(dataset), "pass dataset.root=DIR to a copy"]
        raise DownloadError(f"{e}: {', or '.join(fixes)}", e.reason) from None


def _listing(folder: str) -> str:
    if not os.path.isdir(folder):
        return "no such folder"
    names = sorted(os.listdir(folder))
    return "empty" if not names else ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")


def read_digits(dataset, split):
    from sklearn.datasets import load_digits  # the 8x8 digits ship inside scikit-learn

    d = load_digits()
    images = torch.from_numpy(d.images).float().mul(255.0 / 16.0).round().to(torch.uint8)[:, None]
    return images, torch.from_numpy(d.target).long()


def idx_folders(dataset) -> list[str]:
    """Where an idx dataset's files are looked for, in order: dataset.root (or data/<name> when it is null), the
    folder torchvision downloads into below it, then (root null only) the system folder."""
    cls = IDX_SETS[dataset.format][0]
    roots = [dataset.download_root] + ([dataset.system_root] if not dataset.root and dataset.system_root else [])
    return [folder for r in roots for folder in (r, os.path.join(r, cls, "raw"))]


def find_idx_files(dataset, split: str) -> tuple[str, str] | None:
    images, labels = IDX_STEMS[split]
    for folder in idx_folders(dataset):
        found = idx_file(folder, images), idx_file(folder, labels)
        if all(found):
            return found
    return None


def read_idx_set(dataset, split):
    """MNIST or Fashion-MNIST (idx files, gzipped or not), 28 px padded to 32 as is usual."""
    import torchvision

    cls, package = IDX_SETS[dataset.format]
    found = find_idx_files(dataset, split)
    if found is None and dataset.download:
        _download(dataset, getattr(torchvision.datasets, cls), train=True)  # fetches both splits
        found = find_idx_files(dataset, split)
    if found is None:
        stems = " and ".join(f"{s}[.gz]" for s in IDX_STEMS[split])
        looked = "; ".join(f"{os.path.abspath(f)}: {_listing(f)}" for f in idx_folders(dataset))
        fixes = ([f"install it with `apt-get install {package}` (Debian)"] if package and not dataset.root else []) + \
                [_fetch_hint(dataset), "pass dataset.download=true (needs internet)",
                 "pass dataset.root=DIR to a folder holding these files"]
        raise DataError(f"{dataset.name} not found: looked for {stems} in {looked}: {', or '.join(fixes)}")
    images, labels = read_split(*found)
    images = torch.from_numpy(images.copy())[:, None]
    if images.shape[-1] == 28 and images.shape[-2] == 28:
        images = F.pad(images, (2, 2, 2, 2))  # 28 -> 32 px, as is usual
    return images, torch.from_numpy(labels.astype(np.int64))


def _missing(dataset, what: str) -> DataError:
    return DataError(f"{dataset.name} not found at {os.path.abspath(dataset.download_root)} ({what}): pass "
                     f"dataset.download=true (needs internet), or {_fetch_hint(dataset)}, or point dataset.root at a "
                     f"folder that holds it")


def _cifar10_batch(path: str) -> tuple[torch.Tensor, torch.Tensor]:
    fix = "replace it with an intact copy (`sngan fetch --datasets cifar10`)"
    try:
        with open(path, "rb") as f:
            batch = pickle.load(f, encoding="latin1")
    except Exception as e:  # UnpicklingError, EOFError, ...: not a pickle, or cut short
        raise DataError(f"{path} is not a CIFAR-10 batch ({type(e).__name__}: {str(e)[:80]}): {fix}") from None
    if not isinstance(batch, dict) or "data" not in batch or "labels" not in batch:
        keys = ", ".join(sorted(map(str, batch)))[:80] if isinstance(batch, dict) else type(batch).__name__
        raise DataError(f"{path} is not a CIFAR-10 batch (no 'data' and 'labels' entries; it holds {keys}): {fix}")
    data, labels = np.asarray(batch["data"]), np.asarray(batch["labels"])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise DataError(f"{path} holds {data.dtype} data of shape {data.shape}, not N x 3072 uint8 images: {fix}")
    if len(labels) != len(data):
        raise DataError(f"{path} holds {len(data)} images but {len(labels)} labels: {fix}")
    return torch.from_numpy(data.copy()).reshape(-1, 3, 32, 32), torch.from_numpy(labels.astype(np.int64))


def read_cifar10(dataset, split):
    """CIFAR-10's python format: pickled batches of {'data': (N, 3072) uint8, 'labels': [...]}."""
    from torchvision.datasets import CIFAR10

    folder = os.path.join(dataset.download_root, "cifar-10-batches-py")
    names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    if not all(os.path.isfile(os.path.join(folder, n)) for n in names) and dataset.download:
        _download(dataset, CIFAR10, train=True)
    parts = []
    for name in names:
        path = os.path.join(folder, name)
        if not os.path.isfile(path):
            raise _missing(dataset, f"no {os.path.join('cifar-10-batches-py', name)}")
        parts.append(_cifar10_batch(path))
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])


STL10_IMAGE = 3 * 96 * 96


def _read_stl10_bin(path: str) -> torch.Tensor:
    """STL-10's binary format: uint8 images of 3x96x96 stored column-major per channel."""
    size = os.path.getsize(path)
    if size == 0 or size % STL10_IMAGE:
        raise DataError(f"{path} holds {size} bytes, not a whole number of 3x96x96 images ({STL10_IMAGE} bytes "
                        f"each): the file is truncated; replace it with an intact copy (`sngan fetch --datasets stl10`)")
    raw = np.fromfile(path, dtype=np.uint8)
    return torch.from_numpy(raw.reshape(-1, 3, 96, 96).transpose(0, 1, 3, 2).copy())


def read_stl10(dataset, split, resize):
    from torchvision.datasets import STL10

    folder = os.path.join(dataset.download_root, "stl10_binary")
    parts = ["train", "unlabeled"] if split == "train" else [split]  # the paper trains on both
    if not all(os.path.isfile(os.path.join(folder, f"{part}_X.bin")) for part in parts) and dataset.download:
        _download(dataset, STL10, split="train+unlabeled")
    images = []
    for part in parts:
        path = os.path.join(folder, f"{part}_X.bin")
        if not os.path.isfile(path):
            raise _missing(dataset, f"no {os.path.join('stl10_binary', part + '_X.bin')}")
        # resize per chunk: 105k images at once would need ~11 GB as float
        images += [resize(c) for c in _read_stl10_bin(path).split(4096)]
    images = torch.cat(images)
    return images, torch.zeros(len(images), dtype=torch.long)  # unlabeled: no classes
