"""The idx format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/), read gzipped or not and checked:
a file that is too short for its header, whose type code is not uint8, or whose size disagrees with the counts its
header declares is a one-line DataError naming the file and what is wrong.

Header: two zero bytes, a type code (0x08: uint8), the number of dimensions, then each dimension as a big-endian
uint32; the data follows, row-major.
"""
from __future__ import annotations

import gzip
import os
import zlib

import numpy as np

from ..errors import DataError

UINT8 = 0x08


def _read_bytes(path: str) -> bytes:
    try:
        if path.endswith(".gz"):
            with gzip.open(path, "rb") as f:
                return f.read()
        with open(path, "rb") as f:
            return f.read()
    except (OSError, EOFError, zlib.error) as e:  # gzip: BadGzipFile (an OSError), a truncated stream (EOFError)
        raise DataError(f"{path} cannot be read ({type(e).__name__}: {e}): replace the file with an intact copy")


def read_idx(path: str) -> np.ndarray:
    """The uint8 array an idx file holds, shaped as its header says."""
    raw = _read_bytes(path)
    fix = "replace the file with an intact copy"
    if len(raw) < 4:
        raise DataError(f"{path} is not an idx file: {len(raw)} bytes, shorter than the 4-byte magic number: {fix}")
    if raw[0] != 0 or raw[1] != 0:
        raise DataError(f"{path} is not an idx file (its magic number starts {raw[:2].hex()}, not 0000): {fix}")
    if raw[2] != UINT8:
        raise DataError(f"{path} holds idx type 0x{raw[2]:02x}; images and labels are uint8 (0x08): {fix}")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise DataError(f"{path} has a truncated header: {len(raw)} bytes, its {ndim} dimensions need {header}: {fix}")
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    expected = header + int(np.prod(dims, dtype=np.int64))
    if len(raw) != expected:
        raise DataError(f"{path} holds {len(raw) - header} data bytes but its header declares {' x '.join(map(str, dims))} "
                        f"= {expected - header}: the file is {'truncated' if len(raw) < expected else 'too long'}; {fix}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def idx_file(folder: str, stem: str) -> str | None:
    """`folder/stem` or `folder/stem.gz`, whichever exists (uncompressed first), else None."""
    for name in (stem, stem + ".gz"):
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            return path
    return None


def read_split(images_path: str, labels_path: str) -> tuple[np.ndarray, np.ndarray]:
    """(images (N, H, W) uint8, labels (N,) uint8) of one split, checked against each other."""
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3:
        raise DataError(f"{images_path} holds a {images.ndim}-d array, not images (N x H x W): is it a labels file?")
    if labels.ndim != 1:
        raise DataError(f"{labels_path} holds a {labels.ndim}-d array, not labels (N): is it an images file?")
    if len(images) != len(labels):
        raise DataError(f"{images_path} holds {len(images)} images but {labels_path} holds {len(labels)} labels: "
                        f"the two files come from different sets; replace them with a matching pair")
    return images, labels
