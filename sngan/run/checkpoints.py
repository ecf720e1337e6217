"""Checkpoints: atomic writes, the newest few kept, always loadable with weights_only=True.

<run>/checkpoints/ckpt_<step>.pt are the rolling checkpoints (newest `keep` kept); <run>/checkpoints/best.pt
is the best one so far by a metric (save_best), never pruned. resolve_checkpoint turns what a user types
after `ckpt=` into one of these files.

Each checkpoint carries a digest of its tensors: torch.load does not verify the bytes of tensor data,
so without it a flipped bit would load silently as a different weight.
"""
from __future__ import annotations

import glob
import hashlib
import os

import torch

from ..errors import UserError
from ..fsutil import atomic_write, writing
from .layout import CKPT_RE, RunFolder, list_checkpoints


BEST = "best.pt"
WORDS = ("best", "last")  # ckpt=RUN:best, ckpt=RUN:last (see resolve_checkpoint)


class CheckpointError(UserError):
    """A checkpoint cannot be read."""


def tensor_digest(obj) -> str:
    """A hash of every tensor in a nested state (dicts, lists, tuples), in traversal order."""
    h = hashlib.blake2b(digest_size=16)

    def walk(o):
        if isinstance(o, torch.Tensor):
            t = o.detach().cpu().contiguous()
            h.update(f"{t.dtype}{tuple(t.shape)}".encode())
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
        elif isinstance(o, dict):
            for k in sorted(o, key=str):
                if k != "digest":
                    h.update(str(k).encode())
                    walk(o[k])
        elif isinstance(o, (list, tuple)):
            for v in o:
                walk(v)

    walk(obj)
    return h.hexdigest()


def _atomic_save(path: str, state: dict) -> str:
    """Write state (with its digest) to a temp file, fsync, rename into place and fsync the folder; a failed write
    leaves no temp file and the older checkpoints as they were (a full disk is a DiskError)."""
    state = {**state, "digest": tensor_digest(state)}
    return atomic_write(path, lambda f: torch.save(state, f))


def save_checkpoint(run_dir: str, state: dict, step: int, keep: int) -> str:
    """Write state to a temp file, fsync, rename into place, then drop all but the newest `keep`
    (never fewer than 2: the newest may be cut short by a crash of the disk or the node). Only rolling
    ckpt_*.pt files are pruned: best.pt stays."""
    run = RunFolder(run_dir)
    d = run.checkpoints
    path = _atomic_save(run.checkpoint(step), state)
    with writing(d):
        for old in list_checkpoints(d)[max(keep, 2):]:
            os.remove(old)
        for stale in glob.glob(os.path.join(d, "ckpt_*.pt.tmp*")):  # partial writes of killed runs
            os.remove(stale)
    return path


def best_path(run_dir: str) -> str:
    """<run>/checkpoints/best.pt (run_dir may also be the checkpoints/ folder itself)."""
    d = os.path.abspath(str(run_dir))
    if os.path.basename(d) != "checkpoints" or os.path.isdir(os.path.join(d, "checkpoints")):
        d = RunFolder(d).checkpoints
    return os.path.join(d, BEST)


def save_best(run_dir: str, state: dict, step: int, metric: str, value: float) -> str:
    """Write state as <run>/checkpoints/best.pt, atomically and with its digest like save_checkpoint, with
    `best: {"metric": tag, "value": v, "step": s}` added. Returns the path."""
    path = best_path(run_dir)
    record = {"metric": str(metric), "value": float(value), "step": int(step)}
    _atomic_save(path, {**state, "best": record})
    with writing(path):
        for stale in glob.glob(path + ".tmp*"):  # partial writes of killed runs
            os.remove(stale)
    return path


def read_best(run_dir: str) -> dict | None:
    """The best record ({"metric", "value", "step"}) of a run's best.pt, or None when it has none. The file
    is read through load_checkpoint, so a corrupt best.pt raises CheckpointError."""
    path = best_path(run_dir)
    if not os.path.isfile(path):
        return None
    best = load_checkpoint(path).get("best")
    return dict(best) if best is not None else None


def _looks_saved_by_torch(path: str) -> bool:
    """True when the file starts as torch.save output does: a zip archive (torch >= 1.6) or a pickle."""
    with open(path, "rb") as f:
        head = f.read(4)
    return head.startswith(b"PK\x03\x04") or head[:1] == b"\x80"


def load_checkpoint(path: str, map_location="cpu") -> dict:
    """Load one checkpoint file, with a one-line error when it is corrupt or truncated."""
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"no checkpoint at {path}: pass ckpt=PATH to a ckpt_*.pt file") from None
    except Exception as e:  # truncated zip, bad pickle, ...
        written_by_sngan = os.path.basename(path) == BEST or CKPT_RE.search(path)
        if not written_by_sngan and not _looks_saved_by_torch(path):  # a text file, an image: a wrong path
            raise CheckpointError(f"{path} is not a checkpoint (not a file torch.save wrote): pass ckpt= a "
                                  f"ckpt_*.pt file or a run folder") from None
        raise CheckpointError(f"checkpoint {path} is corrupt or truncated ({type(e).__name__}): "
                              f"delete it or pass another checkpoint") from None
    if not isinstance(state, dict) or "G" not in state:
        raise CheckpointError(f"{path} is not an sngan checkpoint (no 'G' entry)")
    if "digest" in state and state["digest"] != tensor_digest(state):
        raise CheckpointError(f"checkpoint {path} is corrupt (its tensors do not match their digest): "
                              f"delete it or pass another checkpoint")
    return state


def _split_word(path: str) -> tuple[str, str | None]:
    """('RUN', 'best') from 'RUN:best', 'RUN/best' or 'best' (RUN '.'); (path, None) otherwise."""
    for word in WORDS:
        if path == word:
            return ".", word
        if path.endswith(":" + word):
            return path[: -len(word) - 1] or ".", word
        if os.path.basename(path.rstrip("/" + os.sep)) == word and not os.path.exists(path):
            return os.path.dirname(path.rstrip("/" + os.sep)) or ".", word
    return path, None


def resolve_checkpoint(path: str) -> str:
    """The checkpoint file that `ckpt=PATH` names:

    - a file: itself (a ckpt_*.pt or best.pt);
    - a run folder or its checkpoints/ folder: the newest rolling checkpoint (ckpt_*.pt) there;
    - RUN:best (or RUN/best, or just `best` for the current folder): RUN/checkpoints/best.pt;
    - RUN:last (or RUN/last, or `last`): the newest rolling checkpoint, as for RUN itself.
    """
    path = str(path)
    if os.path.isfile(path):
        return path
    folder, word = (path, None) if os.path.isdir(path) else _split_word(path)
    if word == "best":
        best = best_path(folder)
        if os.path.isfile(best):
            return best
        if not os.path.isdir(folder):
            raise CheckpointError(f"no run folder at {folder}: pass ckpt=RUN:best with RUN a run folder")
        raise CheckpointError(f"no best checkpoint in {folder} ({best} is written only when training keeps a best "
                              f"checkpoint): pass ckpt={folder}:last or a ckpt_*.pt file")
    found = list_checkpoints(folder) if os.path.isdir(folder) else []
    if not found:
        hint = f"ckpt={folder}:best" if os.path.isfile(best_path(folder)) else "a ckpt_*.pt file"
        where = f"no checkpoint at {path}" if not os.path.isdir(folder) else f"no rolling checkpoint in {folder}"
        raise CheckpointError(f"{where}: pass {hint}, a run folder holding checkpoints/, or RUN:best / RUN:last")
    return found[0]
