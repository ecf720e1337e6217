"""Composing sngan's Hydra configs (shipped as the package sngan.conf) outside a Hydra run: the public
`sngan.compose`, the bench cells and the tests."""
from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

CONFIG_MODULE = "sngan.conf"


def compose_config(config_name: str, overrides: list[str], return_hydra_config: bool = False) -> DictConfig:
    """The composed config `config_name` (train, sample, eval) with command-line style overrides."""
    from hydra import compose, initialize_config_module

    from .run import naming  # noqa: F401  (registers the run-name resolver the train config uses)

    with initialize_config_module(CONFIG_MODULE, version_base="1.3"):
        return compose(config_name, overrides=list(overrides), return_hydra_config=return_hydra_config)


def compose_train(overrides: list[str], run_dir: str | None = None) -> DictConfig:
    """The composed `sngan train` config, as `sngan train --cfg job` prints it; run_dir (which Hydra sets during
    a run) is set to `run_dir`."""
    cfg = compose_config("train", overrides)
    OmegaConf.set_struct(cfg, False)
    cfg.run_dir = run_dir
    return cfg
