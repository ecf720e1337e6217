"""`sngan eval ckpt=PATH [dataset=NAME] [metrics.num_samples=N]`: one JSON line with metrics and protocol."""
from __future__ import annotations

import json

from omegaconf import OmegaConf

from ..device import pick_device
from ..errors import ConfigError
from ..gan.archs import model_shape
from ..build import generator_from_state
from ..metrics.fidelity import RGBReference, compute_metrics, resolve_spec
from ..run.checkpoints import load_checkpoint, resolve_checkpoint


def eval_dataset(cfg, train_cfg):
    """The checkpoint's dataset, or the one chosen on the command line (same image shape required)."""
    trained = train_cfg.dataset
    if cfg.get("dataset") is None:
        dataset = trained
    else:
        dataset = cfg.dataset
        for key in ("resolution", "channels"):
            if int(dataset[key]) != int(trained[key]):
                raise ConfigError(f"dataset={dataset.name} has {key} {dataset[key]} but the checkpoint was trained at "
                                  f"{trained[key]} ({trained.name}): pick a dataset of the same shape")
    if cfg.get("data_root"):
        dataset = OmegaConf.merge(dataset, {"root": str(cfg.data_root)})
    return dataset


def evaluate(cfg) -> dict:
    if int(cfg.metrics.num_samples) < 1:
        raise ConfigError(f"metrics.num_samples must be >= 1, got {cfg.metrics.num_samples}")
    device = pick_device(cfg.device)
    path = resolve_checkpoint(str(cfg.ckpt))
    state = load_checkpoint(path, map_location="cpu")  # read once: step, EMA presence and the generator
    has_ema, step = state.get("G_ema") is not None, int(state["step"])
    G, train_cfg = generator_from_state(state, device, prefer_ema=bool(cfg.ema), path=path)
    del state  # D and the optimizer states are not needed for the evaluation
    dataset = eval_dataset(cfg, train_cfg)
    spec = resolve_spec(dataset, cfg.metrics)
    if spec is None:
        raise ConfigError(f"{dataset.name} holds 2-D points, not images: IS/FID/KID do not apply")
    m = cfg.metrics
    reference = (RGBReference(dataset, str(m.reference_split), m.reference_size, int(m.seed))
                 if (m.fid or m.kid) else None)
    scalars, protocol = compute_metrics(G, model_shape(train_cfg), m, spec, reference, int(m.num_samples), device,
                                        "G_ema" if cfg.ema and has_ema else "G")
    result = {"ckpt": path, "step": step, "metrics": scalars, "protocol": protocol}
    print(json.dumps(result))
    return result
