"""Shared fixtures: compose the real config, shrunk to CPU-sized runs in tmp_path."""
from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys

import pytest

# tiny but real: a few G updates on the embedded digits, everything logged at least once
SMALL = ["train.steps=4", "train.log_every=2", "metrics.every.sigma=2", "train.sample_every=2",
         "train.ckpt_every=2", "train.progress=false", "batch_size=16", "device=cpu", "train.n_samples=16",
         "metrics.enabled=false", "metrics.memorization.enabled=false"]  # metrics have their own tests


@pytest.fixture(autouse=True, scope="session")
def _private_metrics_cache(tmp_path_factory):
    """Classifiers and reference statistics made by tests never land in the user's ~/.cache/sngan."""
    old = os.environ.get("SNGAN_CACHE")
    os.environ["SNGAN_CACHE"] = str(tmp_path_factory.mktemp("sngan_cache"))
    yield
    if old is None:
        os.environ.pop("SNGAN_CACHE", None)
    else:
        os.environ["SNGAN_CACHE"] = old


@pytest.fixture(autouse=True)
def _no_hydra_left_initialized():
    """A test that made a main Hydra in-process (sngan.launch, an error path that lists keys) leaves it
    behind; compose() in the next test would refuse to start, so every test ends with it cleared."""
    yield
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()


def compose_train(overrides=(), run_dir=None):
    """The composed `sngan train` config with overrides, run_dir set (no Hydra run needed): sngan.compose."""
    from sngan.config import compose_train as compose

    return compose(list(overrides), run_dir=str(run_dir) if run_dir else "/nonexistent")


def build_models_for(cfg, device="cpu"):
    """G and D as `sngan train` builds them from cfg (the one builder, sngan.build)."""
    from sngan.build import build_models, model_recipe

    return build_models(model_recipe(cfg), device)


def discriminator_for(cfg):
    """D of cfg's arch with its norm's feature layer (ln, bn), not yet reparametrized (not seeded)."""
    from sngan.build import model_recipe
    from sngan.gan.archs import build_discriminator

    recipe = model_recipe(cfg)
    return build_discriminator(recipe.arch, recipe.shape, recipe.norm.feature_layer)


def generator_for(cfg):
    """G alone as `sngan sample`/`eval` rebuild it from a checkpoint's config (not seeded)."""
    from sngan.build import build_generator_of, model_recipe

    return build_generator_of(model_recipe(cfg))


@pytest.fixture
def small_cfg(tmp_path):
    """A tiny digits run config in tmp_path; pass extra overrides to the returned factory."""
    def make(*overrides):
        return compose_train(SMALL + list(overrides), run_dir=tmp_path / "run")
    return make


def sngan_exe() -> list[str]:
    """The installed console script (the tests exercise the CLI as a user would)."""
    exe = shutil.which("sngan") or os.path.join(os.path.dirname(sys.executable), "sngan")
    if not os.path.exists(exe):
        pytest.fail("the `sngan` console script is not installed: run `pip install .` first")
    return [exe]


def run_cli(args, cwd, env=None, timeout=600, check=True):
    """Run `sngan ARGS` in cwd; returns the CompletedProcess (stdout, stderr as text)."""
    full_env = dict(os.environ, **(env or {}))
    proc = subprocess.run(sngan_exe() + list(args), cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"sngan {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


def dataset_of(cfg):
    """The dataset options of a composed config (sngan.data.options)."""
    from sngan.data.options import parse_dataset

    return parse_dataset(cfg.dataset)


def fidelity_of(cfg, **changes):
    """The image-quality options of a composed config's metrics group (sngan.metrics.fidelity)."""
    import dataclasses

    from sngan.metrics.fidelity import parse_fidelity

    return dataclasses.replace(parse_fidelity(cfg.metrics), **changes)


def shape_of(cfg):
    """The ModelShape G and D are built for (sngan.build.model_recipe)."""
    from sngan.build import model_recipe

    return model_recipe(cfg).shape


# ---- exact resume: a run's final state, compared bit for bit ---------------------------------------------------
def final_state(run_dir) -> dict:
    """The newest checkpoint of run_dir, loaded."""
    import torch

    from sngan.run.layout import list_checkpoints

    return torch.load(list_checkpoints(str(run_dir))[0], weights_only=True)


def assert_same_training_state(a: dict, b: dict):
    for key in ("G", "D", "opt_G", "opt_D", "G_ema", "step", "data_position"):
        assert_equal(a[key], b[key], key)


def assert_equal(x, y, where):
    import torch

    if isinstance(x, torch.Tensor):
        assert torch.equal(x, y), f"{where} differs"
    elif isinstance(x, dict):
        assert x.keys() == y.keys(), where
        for k in x:
            assert_equal(x[k], y[k], f"{where}.{k}")
    elif isinstance(x, (list, tuple)):
        assert len(x) == len(y), where
        for i, (u, v) in enumerate(zip(x, y)):
            assert_equal(u, v, f"{where}[{i}]")
    else:
        assert x == y, f"{where}: {x} != {y}"


def send_signal_at(monkeypatch, sig, at_step: int):
    """Deliver `sig` to ourselves while step `at_step` (0-based) draws its noise."""
    from sngan.gan.generate import Latents

    real_noise = Latents.noise

    def noise(self, n, device, *keys):
        if keys[:2] == (at_step, 0):
            os.kill(os.getpid(), sig)
        return real_noise(self, n, device, *keys)
    monkeypatch.setattr(Latents, "noise", noise)


# ---- datasets in their real file formats ------------------------------------------------------------------
def idx_bytes(array) -> bytes:
    """A numpy array in the idx format (uint8): two zero bytes, type 0x08, ndim, big-endian dims, the data."""
    import numpy as np

    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_idx_set(folder, n=6, gz=True, seed=0, splits=("train", "t10k")):
    """An MNIST-format set: {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]; returns the train images and labels."""
    import numpy as np

    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    out = None
    for prefix in splits:
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n).astype(np.uint8)
        for stem, array in ((f"{prefix}-images-idx3-ubyte", images), (f"{prefix}-labels-idx1-ubyte", labels)):
            data = idx_bytes(array)
            if gz:
                with gzip.open(os.path.join(folder, stem + ".gz"), "wb") as f:
                    f.write(data)
            else:
                with open(os.path.join(folder, stem), "wb") as f:
                    f.write(data)
        out = out or (images, labels)
    return out
