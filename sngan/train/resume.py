"""Exact resume: what a checkpoint holds beyond the weights, where a run resumes from, what may not change.

A checkpoint holds every piece of state the training loop reads: the state_dict of each object
registered in one dict (G, D, opt_G, opt_D; BN running statistics and SN's u/v vectors are buffers,
so they are in the module state_dicts), the step, the data position, the fixed noise and every RNG
state (torch CPU and CUDA, python random, numpy). Restoring all of it makes a resumed run
bitwise-identical to an uninterrupted one on CPU, whatever train.num_workers.

Where a run resumes from: the newest readable checkpoint in its own run folder; when that holds none,
`resume=PATH` (a checkpoint file, a run folder or its checkpoints/ folder). So rerunning the same
command, `resume=PATH` included, continues where the run folder stopped.
"""
from __future__ import annotations

import json
import os
import random
import sys

import numpy as np
import torch

from torch import nn

from ..build import checkpoint_models_differ, state_dict_misfit
from ..errors import ConfigError
from ..run import identity
from ..run import checkpoints as ckpt_io
from ..run.checkpoints import CheckpointError
from ..run.layout import list_checkpoints

# ---- RNG states (plain containers, so torch.load(weights_only=True) reads them) -------------------

def rng_states() -> dict:
    np_state = np.random.get_state()
    state = {"torch": torch.get_rng_state(),
             "python": random.getstate(),
             "numpy": {"name": str(np_state[0]), "keys": torch.from_numpy(np_state[1].astype(np.int64)),
                       "pos": int(np_state[2]), "has_gauss": int(np_state[3]), "cached": float(np_state[4])}}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_states(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    n = state["numpy"]
    np.random.set_state((n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    cuda = state.get("cuda")
    if cuda is not None and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)


# ---- module and optimizer states -------------------------------------------------------------------

def capture(objects: dict) -> dict:
    """{name: state_dict()} for every registered object, plus the RNG states under 'rng'."""
    return {**{name: obj.state_dict() for name, obj in objects.items()}, "rng": rng_states()}


def restore(state: dict, objects: dict) -> None:
    """Load each registered object's state (RNG states are set apart, right before the loop)."""
    for name, obj in objects.items():
        if name not in state:
            raise CheckpointError(f"the checkpoint has no '{name}' entry: it was written by another "
                                  f"version; pass resume=PATH to a matching checkpoint or start a new run folder")
        misfit = state_dict_misfit(obj, state[name]) if isinstance(obj, nn.Module) else None
        if misfit is None:
            try:
                obj.load_state_dict(state[name])
            except (RuntimeError, ValueError, KeyError) as e:  # an optimizer state of other parameter groups
                misfit = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        if misfit:
            raise CheckpointError(f"the checkpoint's '{name}' does not fit the model built from this config "
                                  f"({misfit}): pass resume=PATH to a matching checkpoint or start a new run folder")
        if isinstance(obj, torch.optim.Optimizer):
            match_parameter_layout(obj)


def match_parameter_layout(optimizer: torch.optim.Optimizer) -> None:
    """Give every per-parameter state tensor (Adam's moments) its parameter's memory layout. A checkpoint written
    with speed.channels_last on and loaded with it off (or the reverse) keeps the saved strides; the fused Adam
    kernel walks state and parameter as flat memory, so mismatched layouts would pair each moment with another
    element. The values are copied by index, so nothing changes where the layouts already agree."""
    for group in optimizer.param_groups:
        for p in group["params"]:
            for key, value in optimizer.state.get(p, {}).items():
                if torch.is_tensor(value) and value.shape == p.shape and value.stride() != p.stride():
                    optimizer.state[p][key] = torch.empty_like(p, dtype=value.dtype).copy_(value)


def check_architecture(state: dict, signatures: dict, source: str) -> None:
    """Refuse a checkpoint whose G or D was built differently from the models built now (sngan.build's
    architecture signature: layer types, widths, biases, BN eps, slopes), so none is ever loaded half."""
    problem = checkpoint_models_differ(state, signatures)
    if problem:
        raise CheckpointError(f"cannot resume {source}: {problem}")


# ---- the resume source -----------------------------------------------------------------------------

def _candidates(run_dir: str, source: str | None) -> tuple[list[str], bool]:
    """Checkpoint files to try, newest first, and whether they are this run folder's own."""
    own = list_checkpoints(run_dir)
    if own:
        return own, True
    if not source:
        return [], True
    source = os.path.expanduser(str(source))
    if os.path.isfile(source):
        return [source], False
    found = list_checkpoints(source) if os.path.isdir(source) else []
    if not found:
        raise CheckpointError(f"resume={source}: no checkpoint there; pass resume=PATH to a ckpt_*.pt file "
                              f"or a run folder holding checkpoints/")
    return found, False


def load_resume_state(run_dir: str, source: str | None = None, map_location="cpu") -> tuple[dict | None, str | None]:
    """The newest readable checkpoint to resume from and its path, or (None, None) for a fresh run.

    A corrupt or truncated checkpoint is reported and the previous one tried; in the run's own folder
    the unreadable files are then renamed to *.corrupt (kept for inspection, never loaded again).
    """
    candidates, own = _candidates(run_dir, source)
    bad = []
    for path in candidates:
        try:
            state = ckpt_io.load_checkpoint(path, map_location=map_location)
        except CheckpointError as e:
            print(f"warning: {e}" + ("; trying the previous checkpoint" if path != candidates[-1] else ""), file=sys.stderr)
            bad.append(path)
            continue
        if own:
            for b in bad:
                os.replace(b, b + ".corrupt")
        if bad:
            print(f"resuming from the previous checkpoint {path}")
        return state, path
    if bad:
        raise CheckpointError(f"no readable checkpoint among {', '.join(bad)}: pass resume=PATH to another "
                              f"checkpoint, or move them away to start afresh")
    return None, None


def read_best(run_dir: str) -> dict | None:
    """best.pt's record, or None (a corrupt best.pt is reported and replaced by the next better evaluation)."""
    try:
        return ckpt_io.read_best(run_dir)
    except CheckpointError as e:
        print(f"warning: {e}; the next evaluation writes a new best.pt", file=sys.stderr)
        return None


def finished_message(run_dir: str, step: int, rerun) -> str:
    """What to do with a run that already reached train.steps (rerun: sngan.run.rerun.Rerun): extend it in its
    folder, or start afresh."""
    return (f"sngan train: the run in {run_dir} already finished ({step} G updates); nothing to do. "
            f"Extend it: {rerun.extend(step)}; start afresh: {rerun.afresh()}")


# ---- what may not change -----------------------------------------------------------------------------

def config_changes(saved: dict, current: dict) -> dict[str, tuple]:
    """{dotted key: (saved, current)} for the keys that identify a run (sngan.run.identity) and differ."""
    return identity.changes(saved, current)


def check_config(saved: dict, current: dict, source: str, force: bool = False) -> None:
    """Refuse to resume when the model, loss, norm, optimizer or data shape changed, unless forced."""
    changes = config_changes(saved, current)
    if not changes:
        return
    listed = ", ".join(f"{k}: {json.dumps(a)} -> {json.dumps(b)}" for k, (a, b) in changes.items())
    if force:
        print(f"warning: resuming {source} with a changed config (resume_force=true): {listed}", file=sys.stderr)
        return
    raise ConfigError(f"cannot resume {source}: the config changed ({listed}); restore those values, "
                      f"use a new run folder (hydra.run.dir=PATH), or pass resume_force=true to resume anyway")
