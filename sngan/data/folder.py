"""A folder of images as a dataset: flat (unlabelled) or one sub-folder per class (labels in sorted folder order, as
torchvision's ImageFolder), each image converted to grayscale or RGB (dataset.channels), resized on its shorter
side and centre-cropped to dataset.resolution.

Undecodable files are skipped, not fatal: their headers are checked once at start (in parallel: I/O bound) and the
count and first paths reported in one warning line. A folder that fits in memory (dataset.in_memory: auto, within
dataset.memory_budget_gb) is decoded once into one uint8 tensor and says so; a larger one is decoded per batch by
loader workers, where a file that passes the header check but still fails to decode is replaced by the next image
(the same one on every run, so resume stays exact), with one warning.
"""
from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor

import torch
from torch.utils.data import Dataset

from ..errors import DataError

EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp", ".gif")


def _is_image_name(name: str) -> bool:
    return name.lower().endswith(EXTENSIONS) and not name.startswith(".")


def _images_in(folder: str) -> list[str]:
    """Image files anywhere under folder, in sorted order."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found += [os.path.join(dirpath, f) for f in sorted(filenames) if _is_image_name(f)]
    return found


def scan_classes(root: str) -> list[str]:
    """The class sub-folders of root (those holding images), sorted; [] for a flat folder."""
    with os.scandir(root) as entries:
        subs = sorted(e.name for e in entries if e.is_dir(follow_symlinks=True) and not e.name.startswith("."))
    return [s for s in subs if any(True for _ in _iter_images(os.path.join(root, s)))]


def _iter_images(folder: str):
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        for f in filenames:
            if _is_image_name(f):
                yield f


def list_images(root: str) -> tuple[list[str], list[int], list[str]]:
    """(paths, labels, classes): one class per sub-folder holding images, or a flat folder's images with label 0."""
    classes = scan_classes(root)
    if not classes:
        with os.scandir(root) as entries:
            paths = sorted(os.path.join(root, e.name) for e in entries if e.is_file() and _is_image_name(e.name))
        return paths, [0] * len(paths), []
    paths, labels = [], []
    for label, name in enumerate(classes):
        found = _images_in(os.path.join(root, name))
        paths += found
        labels += [label] * len(found)
    return paths, labels, classes


def _undecodable(path: str) -> bool:
    """True when PIL cannot read the file's header (not an image, or an image format it cannot decode)."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            image.verify()
        return False
    except Exception:  # UnidentifiedImageError, truncated headers, OSError, ...
        return True


def _transform(resolution: int, channels: int):
    from torchvision import transforms

    mode = "L" if channels == 1 else "RGB"
    return transforms.Compose([transforms.Lambda(lambda im: im.convert(mode)), transforms.Resize(resolution),
                               transforms.CenterCrop(resolution), transforms.PILToTensor()])


def _decode(path: str, transform) -> torch.Tensor:
    from PIL import Image

    with Image.open(path) as image:
        return transform(image)


class FolderImages(Dataset):
    """The readable images of a folder, decoded on access to (channels, resolution, resolution) uint8."""

    def __init__(self, root: str, resolution: int, channels: int):
        root = os.path.abspath(os.path.expanduser(root))
        if not os.path.isdir(root):
            raise DataError(f"no images under {root} (no such folder): pass dataset.root=DIR to a folder of images "
                            f"(flat, or one sub-folder per class)")
        paths, labels, self.classes = list_images(root)
        if not paths:
            raise DataError(f"no images under {root} (no {', '.join(EXTENSIONS[:3])}, ... files"
                            f"{' in its sub-folders' if self.classes else ''}): pass dataset.root=DIR to a folder of "
                            f"images (flat, or one sub-folder per class)")
        self.root = root
        self.samples = self._readable(root, list(zip(paths, labels)))
        self.transform = _transform(resolution, channels)
        self.warned = False

    @staticmethod
    def _readable(root: str, samples: list[tuple[str, int]]) -> list[tuple[str, int]]:
        paths = [path for path, _ in samples]
        with ThreadPoolExecutor(max_workers=16) as pool:
            bad = [path for path, broken in zip(paths, pool.map(_undecodable, paths, chunksize=256)) if broken]
        if not bad:
            return samples
        if len(bad) == len(paths):
            raise DataError(f"none of the {len(paths)} files under {root} is a readable image (first: {bad[0]}): "
                            f"pass dataset.root=DIR to a folder of images")
        skip = set(bad)
        print(f"warning: skipped {len(bad)} undecodable image(s) under {root} (first: {', '.join(bad[:3])})",
              file=sys.stderr)
        return [s for s in samples if s[0] not in skip]

    @property
    def labels(self) -> torch.Tensor:
        return torch.tensor([label for _, label in self.samples], dtype=torch.long)

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, i):
        for offset in range(len(self.samples)):
            j = (i + offset) % len(self.samples)
            path, label = self.samples[j]
            try:
                return _decode(path, self.transform), label
            except Exception as e:  # truncated past its header: the next image stands in, the same on every run
                if not self.warned:
                    self.warned = True
                    print(f"warning: {path} could not be decoded ({type(e).__name__}); the next image stands in "
                          f"for it", file=sys.stderr)
        raise DataError(f"no image under {self.root} can be decoded: pass dataset.root=DIR to a folder of images")

    def decoded_bytes(self, resolution: int, channels: int) -> int:
        return len(self) * channels * resolution * resolution

    def decode_all(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Every image decoded once (threads: PIL releases the GIL while decoding), in order."""
        with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
            pairs = list(pool.map(self.__getitem__, range(len(self)), chunksize=64))
        return torch.stack([x for x, _ in pairs]), torch.tensor([y for _, y in pairs], dtype=torch.long)
