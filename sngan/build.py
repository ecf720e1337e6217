"""The one path from a composed config to models: what `sngan train`, `sample`, `eval`, `bench` and the public API
(sngan.models_from_config, sngan.load_generator) all build G and D with.

`model_recipe(cfg)` parses what the models depend on once (the arch entry and its options, the data's shape,
D's norm entry, G's norm, the seed); `build_models(recipe, device)` makes G and D from it, seeded, so that the
init and SN's u vectors repeat. `architecture_signature` names what was built (layer types and their settings,
BN eps included), so a checkpoint of another architecture is refused instead of loaded half.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import torch
from torch import nn

from .data.options import parse_dataset
from .errors import ConfigError
from .gan.archs import ArchChoice, ModelShape, build_discriminator, build_generator, model_shape, parse_arch
from .gan.norms import Norm, apply_norm_g, build_norm, fold_parametrizations
from .gan.norms.generator_norm import check_norm_g


@dataclass(frozen=True)
class ModelRecipe:
    """Everything G and D are built from."""

    arch: ArchChoice
    dataset: object     # sngan.data.options.ImageDataset or PointDataset: the data the models are shaped for
    shape: ModelShape
    norm: Norm          # D's normalization (registry entry with its options)
    norm_g: str         # none | sn
    seed: int


def model_recipe(cfg) -> ModelRecipe:
    """The ModelRecipe of a composed `sngan train` config (checked: one-line ConfigErrors naming the fix)."""
    arch = parse_arch(cfg.arch)
    for key in ("z_dim", "seed"):
        value = cfg.get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key} must be a whole number, got {value!r}: pass e.g. {key}=128")
    if int(cfg.z_dim) < 1:
        raise ConfigError(f"z_dim must be >= 1, got {cfg.z_dim}")
    dataset = parse_dataset(cfg.dataset)
    return ModelRecipe(arch, dataset, model_shape(cfg.z_dim, dataset, arch), build_norm(cfg.norm),
                       check_norm_g(str(cfg.get("norm_g"))), int(cfg.seed))


def build_generator_of(recipe: ModelRecipe) -> nn.Module:
    """G alone (on the CPU, not seeded): what a checkpoint's weights are loaded into."""
    return apply_norm_g(build_generator(recipe.arch, recipe.shape), recipe.norm_g)


def build_models(recipe: ModelRecipe, device: torch.device | str = "cpu") -> tuple[nn.Module, nn.Module]:
    """G and D with D's normalization applied, seeded so init and SN's u vectors repeat."""
    device = torch.device(device)
    torch.manual_seed(recipe.seed)
    G = build_generator_of(recipe).to(device)
    D = build_discriminator(recipe.arch, recipe.shape, recipe.norm.feature_layer)
    D = recipe.norm.apply(D).to(device)
    return G, D


# the layer settings an architecture signature lists (where a layer has them); picked by name rather than read
# from extra_repr(), whose text changes between torch versions
SIGNATURE_ATTRIBUTES = ("in_features", "out_features", "in_channels", "out_channels", "kernel_size", "stride",
                        "padding", "output_padding", "groups", "num_features", "num_groups", "num_channels", "eps",
                        "affine", "negative_slope", "num_embeddings", "embedding_dim", "scale", "power_iters")


def architecture_signature(net: nn.Module) -> str:
    """A short hash of every layer's type and settings (widths, kernels, biases, eps, slopes, ...), by name."""
    lines = []
    for name, m in net.named_modules():
        settings = {a: getattr(m, a) for a in SIGNATURE_ATTRIBUTES if isinstance(getattr(m, a, None), (int, float, tuple))}
        if isinstance(getattr(m, "bias", None), torch.Tensor) or hasattr(m, "bias"):
            settings["bias"] = getattr(m, "bias", None) is not None
        lines.append(f"{name}:{type(m).__name__}:{sorted(settings.items())}")
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]


# archs whose models changed when sngan matched the official code (Chainer's BN eps, per-unit bn0, the official
# D block and final bias): their checkpoints written before architecture signatures existed cannot be loaded
CHANGED_BEFORE_SIGNATURES = ("dcgan", "resnet")


def state_dict_misfit(module: nn.Module, weights: dict) -> str | None:
    """What keeps `weights` from loading into `module` as a whole (missing, unexpected or reshaped tensors), or
    None when it fits."""
    own = module.state_dict()
    missing = [k for k in own if k not in weights]
    unexpected = [k for k in weights if k not in own]
    reshaped = [f"{k} {tuple(weights[k].shape)} != {tuple(v.shape)}" for k, v in own.items()
                if k in weights and hasattr(weights[k], "shape") and tuple(weights[k].shape) != tuple(v.shape)]
    parts = [f"{label}: {', '.join(keys[:3])}{' ...' if len(keys) > 3 else ''}"
             for label, keys in (("missing", missing), ("unexpected", unexpected), ("other shape", reshaped)) if keys]
    return "; ".join(parts) or None


def checkpoint_models_differ(state: dict, signatures: dict) -> str | None:
    """Why a checkpoint's models do not match the ones built now (None when they do). `signatures` holds
    architecture_signature of the freshly built G (and D, when compared)."""
    saved = state.get("models")
    if saved is None:
        arch = str(((state.get("config") or {}).get("arch") or {}).get("name", ""))
        if arch in CHANGED_BEFORE_SIGNATURES:
            return (f"it was written by sngan < 0.2, whose arch={arch} models differ from today's (the official "
                    f"code's batch-norm eps 2e-5, per-unit first batch norm, D blocks and biases): it cannot be "
                    f"loaded into them; train a new run (name=NEW_NAME), or use sngan 0.1 to read it")
        return None
    differing = [k for k, sig in signatures.items() if k in saved and saved[k] != sig]
    if differing:
        return (f"its {' and '.join(differing)} {'were' if len(differing) > 1 else 'was'} built differently from "
                f"the model this config builds now (architecture signature {saved[differing[0]]} != "
                f"{signatures[differing[0]]}): restore the config it was trained with, or train a new run")
    return None


def generator_from_state(state: dict, device: torch.device | str = "cpu", prefer_ema: bool = True,
                         path: str = "the checkpoint"):
    """(G, recipe, config) of a checkpoint: its generator (the EMA copy when present and preferred), parametrizations
    folded, in eval mode; the recipe it was built from (data shape, dataset); and its training config. A checkpoint
    of another architecture is refused."""
    from omegaconf import OmegaConf

    from .run.checkpoints import CheckpointError
    from .run.legacy import upgrade_config

    cfg = OmegaConf.create(upgrade_config(state["config"]))
    recipe = model_recipe(cfg)
    G = build_generator_of(recipe)
    problem = checkpoint_models_differ(state, {"G": architecture_signature(G)})
    if problem:
        raise CheckpointError(f"cannot load {path}: {problem}")
    weights = state["G_ema"] if prefer_ema and state.get("G_ema") is not None else state["G"]
    misfit = state_dict_misfit(G, weights)
    if misfit:
        raise CheckpointError(f"cannot load {path}: its generator does not fit the model its config builds ({misfit})")
    G.load_state_dict(weights)
    G.eval()  # fold with u, v as saved: in training mode reading the weight would iterate once more
    return fold_parametrizations(G).to(device), recipe, cfg


def load_generator(ckpt: str, device: torch.device | str = "cpu", prefer_ema: bool = True, with_config: bool = False):
    """The generator of a checkpoint reference (a ckpt_*.pt or best.pt file, a run folder, RUN:best, RUN:last),
    its EMA copy when present and preferred, SN folded in, in eval mode (and its training config on request)."""
    from .run.checkpoints import load_checkpoint, resolve_checkpoint

    path = resolve_checkpoint(str(ckpt))
    G, _, cfg = generator_from_state(load_checkpoint(path, map_location="cpu"), device, prefer_ema, path)
    return (G, cfg) if with_config else G
