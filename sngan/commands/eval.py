"""`sngan eval ckpt=PATH [dataset=NAME] [metrics.num_samples=N]`: one JSON line with metrics and protocol.

A start line and progress bars go to stderr, so stdout holds the JSON line alone."""
from __future__ import annotations

import dataclasses
import json
import sys

from ..build import generator_from_state
from ..data.options import parse_dataset
from ..device import pick_device
from ..errors import ConfigError
from ..metrics.fidelity import compute_metrics, parse_fidelity, reference_for, resolve_spec
from ..metrics.memorization import Memorization, memorization
from ..run.checkpoints import load_checkpoint, resolve_checkpoint


def eval_dataset(cfg, trained):
    """The checkpoint's dataset (parsed), or the one chosen on the command line (same image shape required)."""
    dataset = trained if cfg.get("dataset") is None else parse_dataset(cfg.dataset)
    if dataset.points:
        raise ConfigError(f"{dataset.name} holds 2-D points, not images: IS/FID/KID do not apply")
    for key in ("resolution", "channels"):
        if getattr(dataset, key) != getattr(trained, key):
            raise ConfigError(f"dataset={dataset.name} has {key} {getattr(dataset, key)} but the checkpoint was "
                              f"trained at {getattr(trained, key)} ({trained.name}): pick a dataset of the same shape")
    if cfg.get("data_root"):
        dataset = dataclasses.replace(dataset, root=str(cfg.data_root))
    return dataset


def evaluate(cfg) -> dict:
    options = parse_fidelity(cfg.metrics)
    memo = Memorization.parse_options(cfg.metrics)
    device = pick_device(cfg.device)
    path = resolve_checkpoint(str(cfg.ckpt))
    state = load_checkpoint(path, map_location="cpu")  # read once: step, EMA presence and the generator
    has_ema, step = state.get("G_ema") is not None, int(state["step"])
    G, recipe, _ = generator_from_state(state, device, prefer_ema=bool(cfg.ema), path=path)
    del state  # D and the optimizer states are not needed for the evaluation
    dataset = eval_dataset(cfg, recipe.dataset)
    shape, name = recipe.shape, "G_ema" if cfg.ema and has_ema else "G"
    print(f"sngan eval: {path} (step {step}, {name}) on {device}: {options.num_samples} generated images against "
          f"{dataset.name} {options.reference_split}", file=sys.stderr)
    spec = resolve_spec(dataset, options)
    reference = (reference_for(dataset, options, spec.kind if spec else None)
                 if (options.fid or options.kid or options.prc) else None)
    scalars, protocol = compute_metrics(G, shape, options, spec, reference, options.num_samples, device, name,
                                        progress=True)
    if memo.on_for(dataset):
        values, memo_protocol = memorization(G, shape, dataset, memo, device)
        scalars.update(values)
        protocol["memorization"] = memo_protocol
    result = {"ckpt": path, "step": step, "metrics": scalars, "protocol": protocol}
    print(json.dumps(result))
    return result
