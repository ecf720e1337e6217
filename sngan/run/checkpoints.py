"""Checkpoints: atomic writes, the newest few kept, always loadable with weights_only=True.

Each checkpoint carries a digest of its tensors: torch.load does not verify the bytes of tensor data,
so without it a flipped bit would load silently as a different weight.
"""
from __future__ import annotations

import glob
import hashlib
import os

import torch

from ..errors import UserError
from .layout import RunFolder, list_checkpoints


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


def save_checkpoint(run_dir: str, state: dict, step: int, keep: int = 2) -> str:
    """Write state to a temp file, fsync, rename into place, then drop all but the newest `keep`
    (never fewer than 2: the newest may be cut short by a crash of the disk or the node)."""
    run = RunFolder(run_dir)
    d = run.checkpoints
    os.makedirs(d, exist_ok=True)
    path = run.checkpoint(step)
    tmp = path + f".tmp{os.getpid()}"
    state = {**state, "digest": tensor_digest(state)}
    with open(tmp, "wb") as f:
        torch.save(state, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(d, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # make the rename itself durable
    finally:
        os.close(dir_fd)
    for old in list_checkpoints(d)[max(keep, 2):]:
        os.remove(old)
    for stale in glob.glob(os.path.join(d, "ckpt_*.pt.tmp*")):  # partial writes of killed runs
        os.remove(stale)
    return path


def load_checkpoint(path: str, map_location="cpu") -> dict:
    """Load one checkpoint file, with a one-line error when it is corrupt or truncated."""
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"no checkpoint at {path}: pass ckpt=PATH to a ckpt_*.pt file") from None
    except Exception as e:  # truncated zip, bad pickle, ...
        raise CheckpointError(f"checkpoint {path} is corrupt or truncated ({type(e).__name__}): "
                              f"delete it or pass another checkpoint") from None
    if not isinstance(state, dict) or "G" not in state:
        raise CheckpointError(f"{path} is not an sngan checkpoint (no 'G' entry)")
    if "digest" in state and state["digest"] != tensor_digest(state):
        raise CheckpointError(f"checkpoint {path} is corrupt (its tensors do not match their digest): "
                              f"delete it or pass another checkpoint")
    return state


def resolve_checkpoint(path: str) -> str:
    """A checkpoint file from a file path, a run folder or a checkpoints folder (newest there)."""
    if os.path.isfile(path):
        return path
    found = list_checkpoints(path) if os.path.isdir(path) else []
    if not found:
        raise CheckpointError(f"no checkpoint at {path}: pass a ckpt_*.pt file or a run folder holding checkpoints/")
    return found[0]
