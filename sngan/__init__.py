"""sngan: train GANs with spectral normalization and its rivals, and measure them.

The public API for code that embeds sngan's models (the CLI is `sngan`):

    cfg = sngan.compose(["experiment=cifar10_resnet_sn"])   # the config `sngan train ... --cfg job` prints
    G, D = sngan.models_from_config(cfg, device="cpu")      # built and initialized as `sngan train` builds them
    G = sngan.load_generator("outputs/cifar10/RUN:best")    # a trained G: EMA weights when kept, SN folded in
"""

__version__ = "0.3.0"

__all__ = ["compose", "load_generator", "models_from_config"]


def compose(overrides=()):
    """The composed `sngan train` config for these command-line overrides (e.g. ["arch=resnet", "norm=sn"])."""
    from .config import compose_train

    return compose_train(list(overrides))


def models_from_config(cfg, device="cpu"):
    """(G, D) built from a composed `sngan train` config exactly as `sngan train` builds them (seeded init, D's
    norm applied), on `device`."""
    from .build import build_models, model_recipe

    return build_models(model_recipe(cfg), device)


def load_generator(ckpt, device="cpu"):
    """A trained generator from a checkpoint file or reference (RUN folder, RUN:best, RUN:last): its EMA copy when
    the run kept one, parametrizations (SN) folded into plain weights, in eval mode."""
    from .build import load_generator as load

    return load(ckpt, device)
