"""Folders a command creates for a download, removed again when it fails: a failed command leaves nothing behind
that did not exist before it."""
from __future__ import annotations

import contextlib
import os
import shutil


def first_missing(path: str) -> str | None:
    """The outermost folder of `path` (itself included) that does not exist yet, or None."""
    path = os.path.abspath(path)
    missing = None
    while not os.path.exists(path):
        missing, parent = path, os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return missing


@contextlib.contextmanager
def removed_on_failure(path: str):
    """Run the block; when it raises, remove the folders it created on the way to `path` (none that existed)."""
    created = first_missing(path)
    try:
        yield
    except BaseException:
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)
        raise


def root_cause(error: BaseException) -> str:
    """'Type: message' of the innermost cause (a download's URLError under torchvision's RuntimeError)."""
    while (error.__cause__ or error.__context__) is not None:
        error = error.__cause__ or error.__context__
    text = " ".join(line.strip() for line in str(error).splitlines() if line.strip())  # torchvision: one line per mirror
    text = text if len(text) <= 240 else text[:237] + "..."
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
