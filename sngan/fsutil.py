"""Files and folders written so that a failure leaves nothing half-done: folders a download creates are removed again
when it fails; files are written whole (a temp file renamed into place) or appended whole (cut back on failure); and
a write that fails because of the disk (full, quota, read-only, failing, forbidden) becomes one DiskError line naming
the path, the errno text and what to do, instead of a traceback."""
from __future__ import annotations

import contextlib
import errno
import os
import shutil

from .errors import DiskError

# errno -> what to do about it
DISK_ADVICE = {
    errno.ENOSPC: "free space on that disk",
    errno.EDQUOT: "free space within your quota (or raise it)",
    errno.EROFS: "make that filesystem writable again, or move the run folder (hydra.run.dir=PATH)",
    errno.EIO: "the disk reported an I/O error: check it (dmesg), or move the run folder (hydra.run.dir=PATH)",
    errno.EACCES: "make it writable for you, or move the run folder (hydra.run.dir=PATH)",
    errno.EPERM: "make it writable for you, or move the run folder (hydra.run.dir=PATH)",
}


def disk_error(error: OSError, path: str) -> DiskError | None:
    """The DiskError of a failed write to `path`, or None for an OSError that is not about the disk."""
    if error.errno not in DISK_ADVICE:
        return None
    return DiskError(f"cannot write {os.path.abspath(path)}: [Errno {error.errno}] {os.strerror(error.errno)}: "
                     f"{DISK_ADVICE[error.errno]}")


@contextlib.contextmanager
def writing(path: str):
    """Run the block; an OSError about the disk becomes a DiskError naming `path`."""
    try:
        yield
    except OSError as e:
        mapped = disk_error(e, getattr(e, "filename", None) or path)
        if mapped is None:
            raise
        raise mapped from None


def _remove_quietly(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


def atomic_write(path: str, write, mode: str = "wb", durable: bool = True) -> str:
    """write(file) into a temp file beside `path`, then rename it into place (fsynced first when durable): readers
    see the old file or the new one, never part of it. On failure the temp file is removed; a disk failure is a
    DiskError."""
    folder = os.path.dirname(os.path.abspath(path))
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with writing(path):
            os.makedirs(folder, exist_ok=True)
            with open(tmp, mode) as f:
                write(f)
                f.flush()
                if durable:
                    os.fsync(f.fileno())
            os.replace(tmp, path)
            if durable:
                dir_fd = os.open(folder, os.O_RDONLY)
                try:
                    os.fsync(dir_fd)  # make the rename itself durable
                finally:
                    os.close(dir_fd)
    except BaseException:
        _remove_quietly(tmp)
        raise
    return path


def append_whole(path: str, text: str) -> None:
    """Append text to a file whole or not at all: on failure the file is cut back to its old length (no torn last
    line), and a disk failure is a DiskError."""
    with writing(path):
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            start = os.fstat(fd).st_size
            data = text.encode()
            try:
                while data:
                    data = data[os.write(fd, data):]
            except BaseException:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, start)
                raise
        finally:
            os.close(fd)


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
