"""Image datasets as uint8: each yields (C, H, W) uint8 tensors at the configured resolution and a label.

CIFAR-10, STL-10 and MNIST are read from their own file formats; ImageNet from an ImageFolder; the
8x8 digits ship inside scikit-learn. Small datasets come back as one in-memory tensor (TensorImages).
"""
from __future__ import annotations

import contextlib
import io
import os
import sys

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from ..errors import ConfigError, DataError, DownloadError

DATASETS = ("digits", "mnist", "cifar10", "stl10", "imagenet")


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


def _resolve_root(cfg) -> str:
    if cfg.root in (None, "", "???"):
        raise DataError(f"dataset.root is not set for {cfg.name}: pass dataset.root=PATH")
    return os.path.expanduser(str(cfg.root))


def _missing(cfg, what: str) -> DataError:
    fix = ("pass dataset.download=true (needs internet), or run `sngan fetch` on a machine that has it"
           if cfg.name != "imagenet" else "pass dataset.root=PATH to an ImageFolder (one folder per class)")
    return DataError(f"{cfg.name} not found at {os.path.abspath(_resolve_root(cfg))} ({what}): {fix}, "
                     f"or point dataset.root at a folder that holds it")


def _digits(cfg, split):
    from sklearn.datasets import load_digits  # the 8x8 digits ship inside scikit-learn

    d = load_digits()
    images = torch.from_numpy(d.images).float().mul(255.0 / 16.0).round().to(torch.uint8)[:, None]
    labels = torch.from_numpy(d.target).long()
    return images, labels


def _mnist(cfg, split):
    from torchvision.datasets import MNIST

    raw = os.path.join(_resolve_root(cfg), "MNIST", "raw")
    if not (os.path.isdir(raw) and any(n.endswith("-ubyte") for n in os.listdir(raw))):
        _download(cfg, MNIST, train=True)
    try:  # reads MNIST/raw/*-ubyte (the idx format)
        ds = MNIST(_resolve_root(cfg), train=split == "train", download=False)
    except RuntimeError:
        raise _missing(cfg, "no MNIST/raw/*-ubyte files") from None
    return F.pad(ds.data[:, None], (2, 2, 2, 2)), ds.targets.long()  # 28 -> 32 px, as is usual


def _download(cfg, torchvision_cls, **kwargs) -> None:
    """Fetch the archive with torchvision (which verifies its checksums) when the files are missing and
    dataset.download is true (the default for the torchvision datasets)."""
    if cfg.download:
        from ..fsutil import removed_on_failure, root_cause

        root = _resolve_root(cfg)
        said = io.StringIO()  # torchvision prints its progress and the real cause (URLError) to stdout
        try:
            with removed_on_failure(root), contextlib.redirect_stdout(said):
                torchvision_cls(root, download=True, **kwargs)
        except Exception as e:  # no network, disk full, ...
            causes = [line.strip() for line in said.getvalue().splitlines() if "rror" in line or "Errno" in line]
            reason = root_cause(e) + (f"; {causes[-1]}" if causes else "")
            raise DownloadError(f"{cfg.name} is not at {os.path.abspath(root)} and downloading it failed "
                                f"({reason}): run `sngan fetch` on a machine with internet and copy the folder "
                                f"here, or pass dataset.root=PATH to a copy", reason) from None
        sys.stderr.write(said.getvalue())  # the download's own report, off stdout


def _cifar10(cfg, split):
    """CIFAR-10's python format: pickled batches of {'data': (N, 3072) uint8, 'labels': [...]}."""
    import pickle

    from torchvision.datasets import CIFAR10

    folder = os.path.join(_resolve_root(cfg), "cifar-10-batches-py")
    names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    if not all(os.path.isfile(os.path.join(folder, n)) for n in names):
        _download(cfg, CIFAR10, train=True)
    images, labels = [], []
    for name in names:
        path = os.path.join(folder, name)
        if not os.path.isfile(path):
            raise _missing(cfg, f"no {os.path.join('cifar-10-batches-py', name)}")
        with open(path, "rb") as f:
            batch = pickle.load(f, encoding="latin1")
        images.append(torch.as_tensor(batch["data"], dtype=torch.uint8).reshape(-1, 3, 32, 32))
        labels.append(torch.as_tensor(batch["labels"], dtype=torch.long))
    return torch.cat(images), torch.cat(labels)


def _read_stl10_bin(path: str) -> torch.Tensor:
    """STL-10's binary format: uint8 images of 3x96x96 stored column-major per channel."""
    import numpy as np

    raw = np.fromfile(path, dtype=np.uint8)
    return torch.from_numpy(raw.reshape(-1, 3, 96, 96).transpose(0, 1, 3, 2).copy())


def _stl10(cfg, split):
    from torchvision.datasets import STL10

    folder = os.path.join(_resolve_root(cfg), "stl10_binary")
    parts = ["train", "unlabeled"] if split == "train" else [split]  # the paper trains on both
    if not all(os.path.isfile(os.path.join(folder, f"{part}_X.bin")) for part in parts):
        _download(cfg, STL10, split="train+unlabeled")
    images = []
    for part in parts:
        path = os.path.join(folder, f"{part}_X.bin")
        if not os.path.isfile(path):
            raise _missing(cfg, f"no {os.path.join('stl10_binary', part + '_X.bin')}")
        # resize per chunk: 105k images at once would need ~11 GB as float
        images += [_resize_uint8(c, cfg.resolution) for c in _read_stl10_bin(path).split(4096)]
    images = torch.cat(images)
    return images, torch.zeros(len(images), dtype=torch.long)  # unlabeled: no classes


def _undecodable(path: str) -> bool:
    """True when PIL cannot read the file's header (not an image, or an image format it cannot decode)."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            image.verify()
        return False
    except Exception:  # UnidentifiedImageError, truncated headers, OSError, ...
        return True


class ImageFolderUint8(Dataset):
    """An ImageFolder decoded to uint8, resized on the shorter side and center-cropped.

    Undecodable files are skipped, not fatal: their headers are checked once at start (in parallel: I/O bound)
    and the count and first paths reported in one warning line; a file that passes the check but still fails to
    decode is replaced by the next image (the same one on every run, so resume stays exact), with one warning."""

    def __init__(self, root: str, resolution: int):
        from torchvision import datasets, transforms

        tf = transforms.Compose([transforms.Resize(resolution), transforms.CenterCrop(resolution),
                                 transforms.PILToTensor()])
        try:
            self.folder = datasets.ImageFolder(root, transform=tf)
        except (FileNotFoundError, RuntimeError) as e:
            raise DataError(f"no images under {os.path.abspath(root)} ({str(e).split(':')[0]}): pass dataset.root=PATH "
                            f"to an ImageFolder (one sub-folder of images per class)") from None
        self._drop_undecodable(root)
        self.warned = False

    def _drop_undecodable(self, root: str) -> None:
        from concurrent.futures import ThreadPoolExecutor

        paths = [path for path, _ in self.folder.samples]
        with ThreadPoolExecutor(max_workers=16) as pool:
            bad = [path for path, broken in zip(paths, pool.map(_undecodable, paths, chunksize=256)) if broken]
        if not bad:
            return
        if len(bad) == len(paths):
            raise DataError(f"none of the {len(paths)} files under {os.path.abspath(root)} is a readable image "
                            f"(first: {bad[0]}): pass dataset.root=PATH to an ImageFolder of images")
        skip = set(bad)
        self.folder.samples = [s for s in self.folder.samples if s[0] not in skip]
        self.folder.imgs = self.folder.samples
        self.folder.targets = [t for _, t in self.folder.samples]
        print(f"warning: skipped {len(bad)} undecodable image(s) under {os.path.abspath(root)} "
              f"(first: {', '.join(bad[:3])})", file=sys.stderr)

    def __len__(self):
        return len(self.folder)

    def __getitem__(self, i):
        for offset in range(len(self.folder)):
            j = (i + offset) % len(self.folder)
            try:
                x, y = self.folder[j]
                break
            except Exception as e:  # truncated past its header: the next image stands in, the same on every run
                if not self.warned:
                    self.warned = True
                    print(f"warning: {self.folder.samples[j][0]} could not be decoded ({type(e).__name__}); the "
                          f"next image stands in for it", file=sys.stderr)
        return x.expand(3, -1, -1) if x.shape[0] == 1 else x[:3], y


LOADERS = {"digits": _digits, "mnist": _mnist, "cifar10": _cifar10, "stl10": _stl10}


def load_images(cfg, split: str = "train") -> Dataset:
    """The dataset of `cfg` (sngan.data.options.ImageDataset) as uint8 images at cfg.resolution."""
    if cfg.name not in DATASETS:
        raise ConfigError(f"unknown dataset '{cfg.name}': choose one of {', '.join(DATASETS)}")
    if cfg.name == "imagenet":
        return ImageFolderUint8(_resolve_root(cfg), cfg.resolution)
    images, labels = LOADERS[cfg.name](cfg, split)
    images = _resize_uint8(images, cfg.resolution)
    if images.shape[1] != cfg.channels:
        raise ConfigError(f"dataset.channels={cfg.channels} but {cfg.name} has {images.shape[1]}: fix dataset.channels")
    return TensorImages(images, labels)


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
