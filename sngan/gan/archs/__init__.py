"""Generator and discriminator builders: one registry entry per `arch` option (conf/arch/<name>.yaml)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from torch import nn

from ...errors import ConfigError
from .dcgan import DCGANDiscriminator, DCGANGenerator
from .init import INITS, glorot_resnet, normal_002
from .mlp import MLPDiscriminator, MLPGenerator
from .resnet import ResNetDiscriminator, ResNetGenerator


@dataclass(frozen=True)
class ModelShape:
    """What the data fixes about both models: latent size, image shape, classes to condition on."""

    z_dim: int
    resolution: int | None    # None for 2-D points
    channels: int | None
    num_classes: int          # 0: unconditional
    points: bool = False      # 2-D points (dataset kind: points) instead of images
    dataset: str = ""         # the dataset's name, for messages


@dataclass(frozen=True)
class Arch:
    name: str
    points: bool                                                      # models 2-D points, not images
    generator: Callable[[object, ModelShape], nn.Module]              # (arch cfg, shape) -> G
    discriminator: Callable[[object, ModelShape, object], nn.Module]  # (arch cfg, shape, feature layer) -> D
    paper_init: Callable[[nn.Module], None] | None = None            # the official code's init (arch.init=paper)


ARCHS: dict[str, Arch] = {}


def register_arch(arch: Arch) -> Arch:
    ARCHS[arch.name] = arch
    return arch


register_arch(Arch(
    "dcgan", points=False,
    generator=lambda a, s: DCGANGenerator(s.z_dim, s.resolution, s.channels, a.g_ch),
    discriminator=lambda a, s, fn: DCGANDiscriminator(s.resolution, s.channels, a.d_ch, fn),
    paper_init=normal_002))
register_arch(Arch(
    "resnet", points=False,
    generator=lambda a, s: ResNetGenerator(s.z_dim, s.resolution, s.channels, a.g_ch, s.num_classes),
    discriminator=lambda a, s, fn: ResNetDiscriminator(s.resolution, s.channels, a.d_ch, s.num_classes, fn),
    paper_init=glorot_resnet))
register_arch(Arch(
    "mlp", points=True,
    generator=lambda a, s: MLPGenerator(s.z_dim, a.hidden, a.g_layers),
    discriminator=lambda a, s, fn: MLPDiscriminator(2, a.hidden, a.d_layers)))


def model_shape(cfg) -> ModelShape:
    """The ModelShape of a training config; checks that arch.cond has classes to condition on."""
    d = cfg.dataset
    points = d.get("kind", "images") == "points"
    k = 0
    if cfg.arch.get("cond", False):
        k = int(d.get("num_classes", 0) or 0)
        if k < 2:
            raise ConfigError(f"arch.cond=true needs a labelled dataset; dataset={d.name} has "
                              f"num_classes={k}: pass arch.cond=false or a dataset with classes")
    return ModelShape(int(cfg.z_dim), None if points else int(d.resolution), None if points else int(d.channels),
                      k, points, str(d.name))


def get_arch(arch_cfg, shape: ModelShape) -> Arch:
    """The registered arch, checked against the data (arch=mlp models 2-D points and only those)."""
    name = str(arch_cfg.name)
    if name not in ARCHS:
        raise ConfigError(f"unknown arch '{name}': choose one of {', '.join(ARCHS)}")
    arch = ARCHS[name]
    if arch.points != shape.points:
        raise ConfigError(f"arch={name} does not fit dataset={shape.dataset}: the 2-D datasets (ring8, grid25) need arch=mlp, "
                          f"and arch=mlp needs one of them")
    return arch


def init_weights(net: nn.Module, arch_cfg) -> nn.Module:
    """net's weights as arch.init says: 'paper' (the official code's scheme, see init.py) or 'torch'."""
    scheme = str(arch_cfg.get("init", "torch"))
    if scheme not in INITS:
        raise ConfigError(f"unknown arch.init '{scheme}': choose one of {', '.join(INITS)}")
    if scheme == "paper":
        arch = ARCHS[str(arch_cfg.name)]
        if arch.paper_init is None:
            raise ConfigError(f"arch={arch.name} has no paper init (the paper has no such model): pass arch.init=torch")
        arch.paper_init(net)
    return net


def _sized(build, arch_cfg, shape: ModelShape):
    """The architectures fit only some resolutions: say so as a config error naming the fix."""
    try:
        return build()
    except ValueError as e:
        raise ConfigError(f"arch={arch_cfg.name} cannot be built for dataset.resolution={shape.resolution} ({e}): "
                          f"pass a resolution it supports, e.g. 32") from None


def build_generator(arch_cfg, shape: ModelShape) -> nn.Module:
    """G, initialized as arch.init says."""
    arch = get_arch(arch_cfg, shape)
    return init_weights(_sized(lambda: arch.generator(arch_cfg, shape), arch_cfg, shape), arch_cfg)


def build_discriminator(arch_cfg, shape: ModelShape, feature_layer=None) -> nn.Module:
    """D, initialized as arch.init says; feature_layer (channels -> module, from the norm entry) goes after
    D's convs (norm=ln/bn)."""
    arch = get_arch(arch_cfg, shape)
    return init_weights(_sized(lambda: arch.discriminator(arch_cfg, shape, feature_layer), arch_cfg, shape), arch_cfg)
