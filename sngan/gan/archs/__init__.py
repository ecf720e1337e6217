"""Generator and discriminator builders: one registry entry per `arch` option (conf/arch/<name>.yaml), each with
its frozen options parsed from that YAML node (defaults in YAML only)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from torch import nn

from ...errors import ConfigError
from ...options import parse
from .dcgan import VARIANTS, DCGANDiscriminator, DCGANGenerator
from .init import INITS, glorot_resnet, normal_002
from .mlp import MLPDiscriminator, MLPGenerator
from .resnet import ResNetDiscriminator, ResNetGenerator


@dataclass(frozen=True)
class ModelShape:
    """What the data and the arch fix about both models: latent size and law, image shape, classes."""

    z_dim: int
    latent: str               # G's input law: "normal" N(0, I) or "uniform" U(-1, 1)
    resolution: int | None    # None for 2-D points
    channels: int | None
    num_classes: int          # 0: unconditional
    points: bool              # 2-D points (dataset kind: points) instead of images
    dataset: str              # the dataset's name, for messages


@dataclass(frozen=True)
class DCGANOptions:
    g_ch: int | None     # G's channels after the dense layer (null: 512, scaled below 32 px)
    d_ch: int | None     # D's first width (null: 64, scaled below 32 px)
    init: str            # paper | torch
    variant: str         # paper (Table 3) | chainer_gan_lib (dcgan.py)
    bn_eps: float        # G's batch-norm eps (Chainer's 2e-5)


@dataclass(frozen=True)
class ResNetOptions:
    g_ch: int | None
    d_ch: int | None
    cond: bool           # conditional BN in G, projection D
    init: str
    bn_eps: float


@dataclass(frozen=True)
class MLPOptions:
    hidden: int
    g_layers: int
    d_layers: int
    init: str


@dataclass(frozen=True)
class Arch:
    name: str
    points: bool                                                      # models 2-D points, not images
    options: type                                                     # the frozen options of conf/arch/<name>.yaml
    generator: Callable[[object, ModelShape], nn.Module]              # (options, shape) -> G
    discriminator: Callable[[object, ModelShape, object], nn.Module]  # (options, shape, feature layer) -> D
    latent: Callable[[object], str] = lambda o: "normal"              # G's input law for these options
    paper_init: Callable[[nn.Module], None] | None = None            # the official code's init (arch.init=paper)


ARCHS: dict[str, Arch] = {}


def register_arch(arch: Arch) -> Arch:
    if arch.name in ARCHS:
        raise ValueError(f"arch '{arch.name}' is registered twice")
    ARCHS[arch.name] = arch
    return arch


def _dcgan_variant(o: DCGANOptions):
    return VARIANTS[o.variant]


register_arch(Arch(
    "dcgan", points=False, options=DCGANOptions,
    generator=lambda o, s: DCGANGenerator(s.z_dim, s.resolution, s.channels, o.g_ch, o.bn_eps,
                                          _dcgan_variant(o).g_last),
    discriminator=lambda o, s, fn: DCGANDiscriminator(s.resolution, s.channels, o.d_ch, fn,
                                                      _dcgan_variant(o).d_layout, _dcgan_variant(o).d_slope),
    latent=lambda o: _dcgan_variant(o).latent,
    paper_init=normal_002))
register_arch(Arch(
    "resnet", points=False, options=ResNetOptions,
    generator=lambda o, s: ResNetGenerator(s.z_dim, s.resolution, s.channels, o.g_ch, s.num_classes, o.bn_eps),
    discriminator=lambda o, s, fn: ResNetDiscriminator(s.resolution, s.channels, o.d_ch, s.num_classes, fn),
    paper_init=glorot_resnet))
register_arch(Arch(
    "mlp", points=True, options=MLPOptions,
    generator=lambda o, s: MLPGenerator(s.z_dim, o.hidden, o.g_layers),
    discriminator=lambda o, s, fn: MLPDiscriminator(2, o.hidden, o.d_layers)))


@dataclass(frozen=True)
class ArchChoice:
    """The registered arch and its parsed options."""

    entry: Arch
    options: object

    @property
    def name(self) -> str:
        return self.entry.name


def parse_arch(arch_cfg) -> ArchChoice:
    """The arch entry of conf/arch/<name>.yaml with its options, checked."""
    name = str(arch_cfg.name)
    if name not in ARCHS:
        raise ConfigError(f"unknown arch '{name}': choose one of {', '.join(ARCHS)}")
    entry = ARCHS[name]
    options = parse(entry.options, arch_cfg, "arch")
    for key in ("g_ch", "d_ch", "hidden", "g_layers", "d_layers"):
        value = getattr(options, key, None)
        if value is not None and value < 1:
            raise ConfigError(f"arch.{key} must be >= 1{' or null' if key.endswith('_ch') else ''}, got {value}: "
                              f"pass e.g. arch.{key}=64")
    if options.init not in INITS:
        raise ConfigError(f"unknown arch.init '{options.init}': choose one of {', '.join(INITS)}")
    if options.init == "paper" and entry.paper_init is None:
        raise ConfigError(f"arch={name} has no paper init (the paper has no such model): pass arch.init=torch")
    if getattr(options, "variant", None) is not None and options.variant not in VARIANTS:
        raise ConfigError(f"unknown arch.variant '{options.variant}': choose one of {', '.join(VARIANTS)}")
    if getattr(options, "bn_eps", 1.0) <= 0:
        raise ConfigError(f"arch.bn_eps must be > 0, got {options.bn_eps}")
    return ArchChoice(entry, options)


def model_shape(z_dim: int, dataset, arch: ArchChoice) -> ModelShape:
    """The ModelShape of G and D for `dataset` (sngan.data.options, parsed once); checks that arch.cond has classes to
    condition on and that the arch fits the data (arch=mlp models 2-D points and only those)."""
    if arch.entry.points != dataset.points:
        raise ConfigError(f"arch={arch.name} does not fit dataset={dataset.name}: the 2-D datasets (ring8, grid25) "
                          f"need arch=mlp, and arch=mlp needs one of them")
    k = 0
    if getattr(arch.options, "cond", False):
        k = int(dataset.num_classes or 0)
        if k < 2:
            raise ConfigError(f"arch.cond=true needs a labelled dataset; dataset={dataset.name} has "
                              f"num_classes={k}: pass arch.cond=false or a dataset with classes")
    points = dataset.points
    return ModelShape(int(z_dim), arch.entry.latent(arch.options), None if points else int(dataset.resolution),
                      None if points else int(dataset.channels), k, points, str(dataset.name))


def _init_weights(net: nn.Module, arch: ArchChoice) -> nn.Module:
    """net's weights as arch.init says: 'paper' (the official code's scheme, see init.py) or 'torch'."""
    if arch.options.init == "paper":
        arch.entry.paper_init(net)
    return net


def _sized(build, arch: ArchChoice, shape: ModelShape):
    """The architectures fit only some resolutions: say so as a config error naming the fix."""
    try:
        return build()
    except ValueError as e:
        raise ConfigError(f"arch={arch.name} cannot be built for dataset.resolution={shape.resolution} ({e}): "
                          f"pass a resolution it supports, e.g. 32") from None


def build_generator(arch: ArchChoice, shape: ModelShape) -> nn.Module:
    """G, initialized as arch.init says."""
    return _init_weights(_sized(lambda: arch.entry.generator(arch.options, shape), arch, shape), arch)


def build_discriminator(arch: ArchChoice, shape: ModelShape, feature_layer=None) -> nn.Module:
    """D, initialized as arch.init says; feature_layer (channels -> module, from the norm entry) goes after
    D's convs (norm=ln/bn)."""
    return _init_weights(_sized(lambda: arch.entry.discriminator(arch.options, shape, feature_layer), arch, shape),
                         arch)
