"""The project's cache folder and content checksums used in cache keys."""
from __future__ import annotations

import hashlib
import os

_SHA_MEMO: dict[tuple[str, int, int], str] = {}


def cache_dir(*parts: str) -> str:
    """$SNGAN_CACHE, else ~/.cache/sngan (joined with parts); created on demand."""
    root = os.environ.get("SNGAN_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "sngan")
    path = os.path.join(root, *parts)
    os.makedirs(path, exist_ok=True)
    return path


def file_sha256(path: str) -> str:
    """Hex sha256 of a file's bytes, memoized on (path, size, mtime) since weights files are large."""
    st = os.stat(path)
    key = (os.path.realpath(path), st.st_size, st.st_mtime_ns)
    if key not in _SHA_MEMO:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        _SHA_MEMO[key] = h.hexdigest()
    return _SHA_MEMO[key]


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
