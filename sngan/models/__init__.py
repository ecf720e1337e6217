"""Generator and discriminator builders, keyed by the `arch` config group's name."""
from __future__ import annotations

from torch import nn

from ..errors import ConfigError
from ..feature_norm import feature_norm_factory
from .dcgan import DCGANDiscriminator, DCGANGenerator
from .mlp import MLPDiscriminator, MLPGenerator
from .resnet import ResNetDiscriminator, ResNetGenerator

ARCHS = ("dcgan", "resnet", "mlp")


def num_classes(cfg) -> int:
    """Classes the models condition on: the dataset's when arch.cond is true, else 0."""
    if not cfg.arch.get("cond", False):
        return 0
    k = int(cfg.dataset.get("num_classes", 0) or 0)
    if k < 2:
        raise ConfigError(f"arch.cond=true needs a labelled dataset; dataset={cfg.dataset.name} has "
                          f"num_classes={k}: pass arch.cond=false or a dataset with classes")
    return k


def _check_points_pairing(cfg) -> None:
    """arch=mlp models 2-D points (dataset kind: points) and only those."""
    points = cfg.dataset.get("kind", "images") == "points"
    if points != (cfg.arch.name == "mlp"):
        raise ConfigError(f"arch={cfg.arch.name} does not fit dataset={cfg.dataset.name}: the 2-D datasets "
                          f"(ring8, grid25) need arch=mlp, and arch=mlp needs one of them")


def _sized(build, cfg):
    """The architectures fit only some resolutions: say so as a config error naming the fix."""
    try:
        return build()
    except ValueError as e:
        raise ConfigError(f"arch={cfg.arch.name} cannot be built for dataset.resolution="
                          f"{cfg.dataset.get('resolution')} ({e}): pass a resolution it supports, e.g. 32") from None


def build_generator(cfg) -> nn.Module:
    return _sized(lambda: _build_generator(cfg), cfg)


def build_discriminator(cfg) -> nn.Module:
    return _sized(lambda: _build_discriminator(cfg), cfg)


def _build_generator(cfg) -> nn.Module:
    a, d = cfg.arch, cfg.dataset
    _check_points_pairing(cfg)
    if a.name == "mlp":
        return MLPGenerator(cfg.z_dim, a.hidden, a.g_layers)
    if a.name == "dcgan":
        return DCGANGenerator(cfg.z_dim, d.resolution, d.channels, a.g_ch)
    if a.name == "resnet":
        return ResNetGenerator(cfg.z_dim, d.resolution, d.channels, a.g_ch, num_classes(cfg))
    raise ConfigError(f"unknown arch '{a.name}': choose one of {', '.join(ARCHS)}")


def _build_discriminator(cfg) -> nn.Module:
    a, d = cfg.arch, cfg.dataset
    _check_points_pairing(cfg)
    if a.name == "mlp":
        return MLPDiscriminator(2, a.hidden, a.d_layers)
    if a.name == "dcgan":
        return DCGANDiscriminator(d.resolution, d.channels, a.d_ch, feature_norm_factory(cfg))
    if a.name == "resnet":
        return ResNetDiscriminator(d.resolution, d.channels, a.d_ch, num_classes(cfg), feature_norm_factory(cfg))
    raise ConfigError(f"unknown arch '{a.name}': choose one of {', '.join(ARCHS)}")
