"""Every `experiment=` preset composes, names its source and the paper's figures, and trains 2 steps on
the CPU from small files written in the dataset's real format."""
from __future__ import annotations

import os
from importlib import resources

import numpy as np
import pytest
from PIL import Image

from conftest import compose_train, write_idx_set
from sngan.commands.bench.jobs import write_synthetic
from sngan.run.layout import list_checkpoints
from sngan.train import train

PRESETS = sorted(p.name[:-5] for p in resources.files("sngan.conf").joinpath("experiment").iterdir()
                 if p.name.endswith(".yaml"))


def test_the_paper_rows_have_presets():
    needed = {"cifar10_resnet_sn", "stl10_resnet_sn", "imagenet128_projection_sn", "cifar10_cnn_sn",
              "cifar10_cnn_wc", "cifar10_cnn_wn", "cifar10_cnn_gp", "cifar10_cnn_ln", "cifar10_cnn_ortho"}
    assert needed <= set(PRESETS)


@pytest.mark.parametrize("name", PRESETS)
def test_preset_names_its_source_and_figures(name):
    text = resources.files("sngan.conf").joinpath("experiment", f"{name}.yaml").read_text()
    assert "1802.05957" in text and "IS " in text
    assert "Table" in text or "Fig." in text


def test_resnet_preset_is_the_official_recipe():
    cfg = compose_train(["experiment=cifar10_resnet_sn"])
    assert (cfg.arch.name, cfg.loss.name, cfg.norm.name, cfg.dataset.name) == ("resnet", "hinge", "sn", "cifar10")
    assert (cfg.optim.lr, cfg.optim.beta1, cfg.optim.beta2, cfg.optim.n_dis) == (2e-4, 0.0, 0.9, 5)
    assert (cfg.train.steps, cfg.batch_size, cfg.optim.g_batch_size) == (50000, 64, 128)
    assert (cfg.optim.lr_decay, cfg.optim.decay_start) == ("linear", 0)
    assert cfg.dataset.hflip is False and cfg.arch.init == "paper"
    assert (cfg.metrics.num_samples, cfg.metrics.isc_num_samples, cfg.metrics.reference_size) == (5000, 50000, 10000)
    imagenet = compose_train(["experiment=imagenet128_projection_sn"])
    assert imagenet.arch.cond and imagenet.train.steps == 450000 and imagenet.optim.decay_start == 400000


def test_the_fashion_mnist_comparison_is_the_recipe_narrowed_and_shortened():
    """The real-image grid's preset changes only widths, length and evaluation schedule: the recipe's loss, optimizer,
    EMA and speed options stay; a setting or loss from the command line still takes over (the grid's D and gp cells)."""
    recipe = compose_train(["dataset=fashion_mnist"])
    cfg = compose_train(["experiment=fashion_mnist_comparison"])
    assert (cfg.arch.g_ch, cfg.arch.d_ch, cfg.train.steps) == (128, 16, 4000) != (recipe.arch.g_ch, recipe.arch.d_ch,
                                                                                recipe.train.steps)
    assert (cfg.metrics.every.fidelity, cfg.metrics.every.classes) == (1000, 1000)
    for key in ("loss", "optim", "ema", "speed", "dataset", "batch_size"):
        assert cfg[key] == recipe[key], key
    d = compose_train(["experiment=fashion_mnist_comparison", "setting=D", "norm=gp", "loss=wgan"])
    assert (d.optim.lr, d.optim.beta1, d.optim.beta2, d.optim.n_dis, d.loss.name, d.norm.name) == (
        1e-3, 0.5, 0.9, 5, "wgan", "gp")  # the paper's Table 1 setting D
    assert (d.arch.g_ch, d.train.steps) == (128, 4000)


def _write_imagenet(root, classes=2, per_class=3, size=140):
    rng = np.random.default_rng(0)
    for c in range(classes):
        os.makedirs(os.path.join(root, f"n{c:08d}"), exist_ok=True)
        for i in range(per_class):
            Image.fromarray(rng.integers(0, 256, (size, size + 10, 3), dtype=np.uint8)).save(
                os.path.join(root, f"n{c:08d}", f"{i}.JPEG"))


@pytest.mark.parametrize("name", PRESETS)
def test_preset_trains_two_steps_on_files_in_the_real_format(name, tmp_path):
    preset = compose_train([f"experiment={name}"])
    dataset = preset.dataset.name
    root = tmp_path / dataset
    if dataset == "imagenet":
        _write_imagenet(str(root))
    elif dataset == "fashion_mnist":
        write_idx_set(root, n=40)
    else:
        write_synthetic(dataset, str(root), n=40)
    small = ["train.steps=2", "train.log_every=1", "train.sample_every=2", "train.ckpt_every=2",
             "train.progress=false", "device=cpu", "train.n_samples=4", "metrics.enabled=false",
             "metrics.every.sigma=2", f"dataset.root={root}", "batch_size=4", "arch.g_ch=8", "arch.d_ch=8",
             "train.class_grids=2"]
    if preset.optim.step_order != "g_first_shared":  # that order makes G's step from D step 0's fakes: one batch
        small.append("optim.g_batch_size=8")
    cfg = compose_train([f"experiment={name}", *small], run_dir=tmp_path / "run")
    cfg.dataset.num_classes = 2 if dataset == "imagenet" else cfg.dataset.num_classes
    train(cfg)
    assert list_checkpoints(cfg.run_dir)
