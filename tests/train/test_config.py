"""Every option of every config group composes, and builds real models."""
from __future__ import annotations

import os

import pytest
import torch
from hydra import compose, initialize_config_module
from omegaconf import OmegaConf

from conftest import build_models_for, compose_train
from sngan.errors import ConfigError
from sngan.gan.norms import build_norm
from sngan.train.entry import read_config

CONF = os.path.join(os.path.dirname(__file__), "..", "..", "conf")


def options(group: str) -> list[str]:
    return sorted(f[:-5] for f in os.listdir(os.path.join(CONF, group)) if f.endswith(".yaml"))


def test_every_group_has_options():
    for group in ("dataset", "arch", "loss", "norm", "setting"):
        assert options(group), group
    assert {"digits", "mnist", "cifar10", "stl10", "imagenet"} <= set(options("dataset"))
    assert {"dcgan", "resnet"} <= set(options("arch"))
    assert {"bce", "hinge"} <= set(options("loss"))
    assert {"none", "sn", "wn", "wc"} <= set(options("norm"))
    assert {"A", "B", "C", "D", "E", "F", "resnet"} <= set(options("setting"))


IMAGE_DATASETS = ["digits", "mnist", "cifar10", "stl10", "imagenet"]


@pytest.mark.parametrize("dataset", [d for d in options("dataset")])
def test_dataset_option_composes(dataset):
    cfg = compose_train([f"dataset={dataset}"])
    assert cfg.dataset.name == dataset
    # the run length is the dataset's, unless its recipe for the default arch sets its own
    recipe = os.path.join(CONF, "recipe", f"{dataset}_{cfg.arch.name}.yaml")
    recipe_steps = OmegaConf.load(recipe).get("train", {}).get("steps") if os.path.exists(recipe) else None
    assert cfg.train.steps == (recipe_steps or cfg.dataset.steps) > 0
    assert cfg.dataset.steps > 0


@pytest.mark.parametrize("dataset", IMAGE_DATASETS)
@pytest.mark.parametrize("arch", ["dcgan", "resnet"])
def test_image_models_build_for_each_dataset(dataset, arch):
    # small widths: the shapes, not the paper's sizes, are under test here (see gan/test_models.py)
    cfg = compose_train([f"dataset={dataset}", f"arch={arch}", "arch.g_ch=16", "arch.d_ch=8"])
    G, D = build_models_for(cfg)
    z = torch.randn(2, cfg.z_dim)
    x = G(z)
    r = cfg.dataset.resolution
    assert x.shape == (2, cfg.dataset.channels, r, r)
    assert D(x).shape == (2,)


@pytest.mark.parametrize("norm", options("norm"))
def test_norm_option_composes_and_builds(norm):
    cfg = compose_train([f"norm={norm}"])
    assert cfg.norm.name == norm
    read_config(cfg)  # every option set parsed, the norm's own keys by its registry entry
    G, D = build_models_for(cfg)
    assert D(G(torch.randn(2, cfg.z_dim))).shape == (2,)


@pytest.mark.parametrize("loss", options("loss"))
def test_loss_option_composes(loss):
    from sngan.gan.losses import build_loss

    cfg = compose_train([f"loss={loss}"])
    real, fake = torch.randn(8), torch.randn(8)
    assert torch.isfinite(build_loss(cfg.loss.name).d_loss(real, fake))
    assert torch.isfinite(build_loss(cfg.loss.name).g_loss(fake))


PAPER_TABLE_1 = {  # setting: (lr, beta1, beta2, n_dis), from the SN-GAN paper
    "A": (1e-4, 0.5, 0.9, 5), "B": (1e-4, 0.5, 0.999, 1), "C": (2e-4, 0.5, 0.999, 1),
    "D": (1e-3, 0.5, 0.9, 5), "E": (1e-3, 0.5, 0.999, 5), "F": (1e-3, 0.9, 0.999, 5),
    "resnet": (2e-4, 0.0, 0.9, 5),
}


@pytest.mark.parametrize("setting", sorted(PAPER_TABLE_1))
def test_settings_match_paper_table_1(setting):
    cfg = compose_train([f"setting={setting}"])
    o = cfg.optim
    assert (o.lr, o.beta1, o.beta2, o.n_dis) == PAPER_TABLE_1[setting]
    assert cfg.setting_name == setting


def test_setting_overrides_main_config_and_cli_overrides_setting():
    cfg = compose_train(["setting=D", "optim.n_dis=2"])
    assert cfg.optim.lr == 1e-3 and cfg.optim.n_dis == 2


def test_digits_quickstart_recipe_applies_only_where_nothing_else_is_chosen():
    cfg = compose_train([])  # `sngan train`: the recipe of docs/results/quickstart.md
    assert (cfg.dataset.name, cfg.loss.name, cfg.train.steps) == ("digits", "hinge", 3500)
    assert (cfg.optim.lr, cfg.optim.beta1, cfg.optim.beta2, cfg.optim.n_dis) == (1e-3, 0.0, 0.9, 1)
    assert (cfg.ema.enabled, cfg.ema.decay, cfg.ema.start) == (True, 0.999, 500)
    assert (cfg.arch.g_ch, cfg.arch.d_ch, cfg.arch.init) == (128, 24, "torch")
    chosen = compose_train(["setting=A", "loss=bce", "ema.enabled=false", "arch.d_ch=8", "arch.init=paper"])
    assert (chosen.optim.lr, chosen.optim.n_dis, chosen.loss.name) == (1e-4, 5, "bce")
    assert (chosen.ema.enabled, chosen.arch.d_ch, chosen.arch.init) == (False, 8, "paper")
    cifar = compose_train(["dataset=cifar10"])  # no recommendation: the paper's setting C, bce, N(0, 0.02) init
    assert (cifar.optim.lr, cifar.loss.name, cifar.arch.init, cifar.ema.enabled) == (2e-4, "bce", "paper", False)
    assert cifar.arch.g_ch is None and cifar.arch.d_ch is None


def test_fashion_mnist_recipe_turns_on_native_bf16_and_the_command_line_still_wins():
    cfg = compose_train(["dataset=fashion_mnist"])  # conf/recipe/fashion_mnist_dcgan.yaml
    assert (cfg.train.steps, cfg.arch.g_ch, cfg.arch.d_ch, cfg.loss.name) == (7000, 256, 32, "hinge")
    assert (cfg.speed.bf16, cfg.speed.channels_last, cfg.speed.compile) == ("auto", True, False)
    off = compose_train(["dataset=fashion_mnist", "speed.bf16=false", "speed.channels_last=false"])
    assert (off.speed.bf16, off.speed.channels_last) == (False, False)
    gpu = compose_train(["dataset=fashion_mnist", "speed=gpu"])  # the preset's compile survives the recipe
    assert gpu.speed.compile is True and gpu.speed.channels_last is True
    assert compose_train([]).speed.bf16 is False  # no recipe speed option for the digits quickstart


@pytest.mark.parametrize("bad, fragment", [
    (["optim.lr=-1"], "optim.lr"), (["optim.beta2=1.5"], "beta"), (["optim.n_dis=0"], "n_dis"),
    (["batch_size=0"], "batch_size"),
    (["optim.lr=abc"], "optim.lr must be a number"), (["train.steps=many"], "train.steps must be a whole number"),
    (["arch.g_ch=0"], "arch.g_ch must be >= 1"), (["arch.g_ch=-4"], "arch.g_ch must be >= 1"),
    (["train.ckpt_minutes=-1"], "train.ckpt_minutes"),
])
def test_bad_values_are_refused_with_the_key_named(bad, fragment):
    with pytest.raises(ConfigError, match=fragment):
        read_config(compose_train(bad))


def test_every_problem_is_reported_at_once():
    with pytest.raises(ConfigError, match=r"3 problems: \(1\).*arch.g_ch.*\(2\).*optim.lr.*\(3\).*batch_size"):
        read_config(compose_train(["arch.g_ch=0", "optim.lr=-1", "batch_size=0"]))


@pytest.mark.parametrize("bad, fragment", [
    (["norm=wc", "norm.clip=-0.1"], "norm.clip"), (["norm=sn", "norm.power_iters=0"], "power_iters"),
    (["norm=bssn", "norm.power_iters=0"], "power_iters"), (["norm=bssn", "norm.scale=-1"], "norm.scale"),
])
def test_bad_norm_values_are_refused_by_the_norm_entry_with_the_key_named(bad, fragment, tmp_path):
    """A norm's own keys are checked by its registry entry (build_norm, which read_config calls before any work)."""
    cfg = compose_train(bad, run_dir=tmp_path / "run")
    with pytest.raises(ConfigError, match=fragment):
        build_norm(cfg.norm)
    from sngan.train import train

    with pytest.raises(ConfigError, match=fragment):
        train(cfg)
    assert not (tmp_path / "run").exists()  # refused before the run folder was made


@pytest.mark.parametrize("arch, resolution", [("dcgan", 30), ("resnet", 40)])
def test_unsupported_resolution_is_a_config_error(arch, resolution):
    cfg = compose_train([f"arch={arch}", f"dataset.resolution={resolution}"])
    with pytest.raises(ConfigError, match="dataset.resolution"):
        build_models_for(cfg)


def test_missing_gpu_index_is_a_config_error():
    from sngan.device import pick_device

    with pytest.raises(ConfigError, match="device"):
        pick_device(f"cuda:{torch.cuda.device_count() + 3}")


def test_sample_config_composes():
    with initialize_config_module("sngan.conf", version_base="1.3"):
        cfg = compose("sample", overrides=["ckpt=x.pt", "n=16"])
    assert cfg.n == 16 and cfg.ckpt == "x.pt"
