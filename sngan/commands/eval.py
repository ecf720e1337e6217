"""`sngan eval ckpt=PATH [dataset=NAME] [metrics.num_samples=N]`: one JSON line with metrics and protocol.

A start line and progress bars go to stderr, so stdout holds the JSON line alone."""
from __future__ import annotations

import dataclasses
import json
import sys
from dataclasses import dataclass

from omegaconf import OmegaConf

from ..build import generator_from_state
from ..data.options import parse_dataset
from ..device import pick_device
from ..errors import ConfigError
from ..options import parse
from ..metrics.fidelity import compute_metrics, parse_fidelity, reference_for, resolve_spec
from ..metrics import classes
from ..metrics.memorization import Memorization, memorization
from ..run.checkpoints import load_checkpoint, resolve_checkpoint


@dataclass(frozen=True)
class EvalOptions:
    """`sngan eval`'s own options (conf/eval.yaml documents each; the metrics and dataset groups are parsed by their
    owners)."""

    ckpt: str
    ema: bool
    data_root: str | None
    device: str

    @classmethod
    def parse(cls, cfg) -> "EvalOptions":
        if OmegaConf.is_missing(cfg, "ckpt"):
            raise ConfigError("no checkpoint given: pass ckpt=PATH (a ckpt_*.pt file, a run folder, or RUN:best)")
        return parse(cls, cfg, "", ignore=("metrics", "dataset"))


def eval_dataset(cfg, trained, data_root: str | None):
    """The checkpoint's dataset (parsed), or the one chosen on the command line (same image shape required)."""
    dataset = trained if cfg.get("dataset") is None else parse_dataset(cfg.dataset)
    if dataset.points:
        raise ConfigError(f"{dataset.name} holds 2-D points, not images: IS/FID/KID do not apply")
    for key in ("resolution", "channels"):
        if getattr(dataset, key) != getattr(trained, key):
            raise ConfigError(f"dataset={dataset.name} has {key} {getattr(dataset, key)} but the checkpoint was "
                              f"trained at {getattr(trained, key)} ({trained.name}): pick a dataset of the same shape")
    if data_root:
        dataset = dataclasses.replace(dataset, root=data_root)
    return dataset


def evaluate(cfg) -> dict:
    o = EvalOptions.parse(cfg)
    options = parse_fidelity(cfg.metrics)
    memo = Memorization.parse_options(cfg.metrics)
    coverage = classes.parse_classes(cfg.metrics)
    device = pick_device(o.device)
    path = resolve_checkpoint(o.ckpt)
    state = load_checkpoint(path, map_location="cpu")  # read once: step, EMA presence and the generator
    has_ema, step = state.get("G_ema") is not None, int(state["step"])
    G, recipe, _ = generator_from_state(state, device, prefer_ema=o.ema, path=path)
    del state  # D and the optimizer states are not needed for the evaluation
    dataset = eval_dataset(cfg, recipe.dataset, o.data_root)
    shape, name = recipe.shape, "G_ema" if o.ema and has_ema else "G"
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
    if classes.wanted(dataset, coverage):
        net, meta = classes.load_classifier(dataset, coverage)
        values, fields = classes.measure(G, shape, net, meta, coverage, device, name)
        scalars.update(values)
        protocol.update(fields["protocol"])
        protocol["class_shares"] = fields["class_shares"]
    result = {"ckpt": path, "step": step, "metrics": scalars, "protocol": protocol}
    print(json.dumps(result))
    return result
