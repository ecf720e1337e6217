"""What a benchmark cell trains on: the paper's own job for an arch and dataset (its experiment preset), and
the dataset's files. CIFAR-10 and STL-10 are read from dataset.root when their files are there; otherwise from
synthetic files of the right shape written to a temporary folder (the output says so): speed does not depend on
what the pixels show. Used by `sngan bench --throughput`, `--overhead` and `--ops`.
"""
from __future__ import annotations

import os
import pickle

import numpy as np

from ...errors import UserError
from .cells import bench_config

# the paper's own jobs where it has one: hinge loss, n_dis 5, G batch twice the D batch (sngan_projection configs)
PAPER_JOBS = {("resnet", "cifar10"): "cifar10_resnet_sn", ("resnet", "stl10"): "stl10_resnet_sn",
              ("dcgan", "cifar10"): "cifar10_cnn_sn"}


def cell_overrides(arch: str, dataset: str) -> list[str]:
    """The experiment preset a throughput cell runs (the paper's job for this arch and dataset), if any."""
    job = PAPER_JOBS.get((arch, dataset))
    return [f"experiment={job}"] if job else []


def write_synthetic(dataset: str, root: str, n: int = 1024) -> None:
    """Random images in the dataset's own file format under root (read by sngan.data's loaders)."""
    rng = np.random.default_rng(0)
    if dataset == "cifar10":
        folder = os.path.join(root, "cifar-10-batches-py")
        os.makedirs(folder, exist_ok=True)
        for i in range(1, 6):
            batch = {"data": rng.integers(0, 256, (n // 5, 3072), dtype=np.uint8),
                     "labels": rng.integers(0, 10, n // 5).tolist()}
            with open(os.path.join(folder, f"data_batch_{i}"), "wb") as f:
                pickle.dump(batch, f)
    elif dataset == "stl10":
        folder = os.path.join(root, "stl10_binary")
        os.makedirs(folder, exist_ok=True)
        for part in ("train", "unlabeled"):
            rng.integers(0, 256, (n // 2, 3, 96, 96), dtype=np.uint8).tofile(os.path.join(folder, f"{part}_X.bin"))
    else:
        raise UserError(f"no synthetic stand-in for {dataset}: choose digits, ring8, grid25, cifar10 or stl10")


def dataset_overrides(dataset: str, tmp: str) -> tuple[list[str], str]:
    """Overrides that point the dataset at its files, and a note on where the images come from."""
    if dataset not in ("cifar10", "stl10"):
        return [], "real"
    from ...data.images import load_images
    from ...errors import DataError

    cfg = bench_config("dcgan", "none", dataset, 1, 1, 8, "cpu", "C", tmp, [])
    try:
        load_images(cfg.dataset)
        return [], "real"
    except DataError:  # files absent: synthetic images of the right shape
        synth = os.path.join(tmp, dataset)
        write_synthetic(dataset, synth)
        return [f"dataset.root={synth}"], f"synthetic (no files at {cfg.dataset.root or 'data/' + dataset})"
