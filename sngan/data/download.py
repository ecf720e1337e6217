"""Downloads of the torchvision datasets that leave nothing behind when they fail.

torchvision writes into the folder it is given (MNIST: <root>/MNIST/raw/, CIFAR-10: the archive and its folder
beside it). Run there directly, an offline attempt would leave empty folders or partial archives inside a folder
the user made. So the download goes into a fresh hidden folder next to the target; on success its contents are
moved into place (renames on one filesystem), on failure the hidden folder is removed and nothing else was touched.
"""
from __future__ import annotations

import contextlib
import io
import os
import shutil
import sys
import tempfile

from ..errors import DownloadError
from ..fsutil import first_missing, root_cause


def _existing_ancestor(path: str) -> str:
    path = os.path.abspath(path)
    while not os.path.isdir(path):
        path = os.path.dirname(path)
    return path


def _merge_into(src: str, dst: str) -> None:
    """Move every entry of folder src into folder dst (created if missing), merging sub-folders."""
    os.makedirs(dst, exist_ok=True)
    for name in os.listdir(src):
        s, d = os.path.join(src, name), os.path.join(dst, name)
        if os.path.isdir(s) and os.path.isdir(d):
            _merge_into(s, d)
        else:
            os.replace(s, d)


def download_with(torchvision_cls, root: str, name: str, **kwargs) -> None:
    """torchvision_cls(<root>, download=True, **kwargs), all-or-nothing: on failure a DownloadError (one line, the
    cause named) and `root` as it was (not even created); torchvision's progress goes to stderr."""
    root = os.path.abspath(os.path.expanduser(root))
    created = first_missing(root)  # what a failed move into place must take away again
    base = _existing_ancestor(os.path.dirname(created or root))
    try:
        staging = tempfile.mkdtemp(prefix=".sngan-download-", dir=base)
    except OSError as e:
        reason = f"{type(e).__name__}: {e.strerror or e}"
        raise DownloadError(f"{name} is not at {root} and cannot be downloaded there ({reason})", reason) from None
    said = io.StringIO()  # torchvision prints its progress and the real cause (URLError) to stdout
    try:
        with contextlib.redirect_stdout(said):
            torchvision_cls(staging, download=True, **kwargs)
        _merge_into(staging, root)
    except Exception as e:  # no network, disk full, a bad archive, ...
        causes = [line.strip() for line in said.getvalue().splitlines() if "rror" in line or "Errno" in line]
        reason = root_cause(e) + (f"; {causes[-1]}" if causes else "")
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)
        raise DownloadError(f"{name} is not at {root} and downloading it failed ({reason})", reason) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    sys.stderr.write(said.getvalue())
