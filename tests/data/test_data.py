"""Dataset loading on files written in the real formats, and the resumable batch stream."""
from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import torch

from conftest import compose_train
from sngan.data.batches import BatchPlan, BatchStream
from sngan.data.images import load_images, to_float, to_uint8
from sngan.errors import ConfigError, DataError


def write_cifar10(root, n_per_batch=4, seed=0):
    """A tiny CIFAR-10 in its python format: 5 train batches and a test batch of pickled dicts."""
    rng = np.random.default_rng(seed)
    folder = os.path.join(root, "cifar-10-batches-py")
    os.makedirs(folder)
    written = []
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (n_per_batch, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, n_per_batch).tolist()
        with open(os.path.join(folder, name), "wb") as f:
            pickle.dump({"data": data, "labels": labels, "batch_label": name}, f)
        written.append((data, labels))
    with open(os.path.join(folder, "batches.meta"), "wb") as f:
        pickle.dump({"label_names": [f"c{i}" for i in range(10)]}, f)
    return written


def test_cifar10_loads_the_real_format(tmp_path):
    written = write_cifar10(tmp_path)
    cfg = compose_train(["dataset=cifar10", f"dataset.root={tmp_path}"]).dataset
    ds = load_images(cfg)
    assert len(ds) == 20
    data, labels = written[0]
    # row-major 3072 = 3 planes of 32x32 (R, G, B)
    assert torch.equal(ds.images[0], torch.from_numpy(data[0].reshape(3, 32, 32)))
    assert ds.labels[:4].tolist() == labels
    test = load_images(cfg, split="test")
    assert torch.equal(test.images, torch.from_numpy(written[5][0].reshape(-1, 3, 32, 32)))


def test_missing_dataset_names_the_fix(tmp_path):
    # download=false: the torchvision datasets now download missing files by default (needs internet)
    cfg = compose_train(["dataset=cifar10", f"dataset.root={tmp_path / 'nothing'}", "dataset.download=false"]).dataset
    with pytest.raises(DataError, match="dataset.download=true.*dataset.root"):
        load_images(cfg)


def test_stl10_reads_column_major_binary_and_resizes(tmp_path):
    folder = tmp_path / "stl10_binary"
    folder.mkdir()
    img = np.zeros((3, 96, 96), np.uint8)
    img[0, 10, 80] = 255  # channel 0, row 10, column 80
    for part in ("train", "unlabeled"):
        # the file stores each channel column-major, i.e. the transpose
        np.stack([img.transpose(0, 2, 1)] * 2).tofile(folder / f"{part}_X.bin")
    cfg = compose_train(["dataset=stl10", f"dataset.root={tmp_path}", "dataset.resolution=96"]).dataset
    ds = load_images(cfg)
    assert len(ds) == 4 and ds.images[0, 0, 10, 80] == 255 and ds.images[0, 0, 80, 10] == 0
    cfg.resolution = 48
    assert load_images(cfg).images.shape == (4, 3, 48, 48)


def test_mnist_reads_idx_files_and_pads_to_32(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    imgs = np.random.default_rng(0).integers(0, 256, (3, 28, 28), dtype=np.uint8)
    labels = np.array([1, 2, 3], np.uint8)
    for prefix in ("train", "t10k"):
        with open(raw / f"{prefix}-images-idx3-ubyte", "wb") as f:
            f.write(np.array([2051, 3, 28, 28], ">i4").tobytes() + imgs.tobytes())
        with open(raw / f"{prefix}-labels-idx1-ubyte", "wb") as f:
            f.write(np.array([2049, 3], ">i4").tobytes() + labels.tobytes())
    ds = load_images(compose_train(["dataset=mnist", f"dataset.root={tmp_path}"]).dataset)
    assert ds.images.shape == (3, 1, 32, 32)
    assert torch.equal(ds.images[:, 0, 2:30, 2:30], torch.from_numpy(imgs))
    assert ds.labels.tolist() == [1, 2, 3]


def test_imagenet_folder(tmp_path):
    from PIL import Image

    for cls in ("a", "b"):
        (tmp_path / cls).mkdir()
        for i in range(2):
            Image.fromarray(np.full((40, 60, 3), 100 + i, np.uint8)).save(tmp_path / cls / f"{i}.png")
    cfg = compose_train(["dataset=imagenet", f"dataset.root={tmp_path}", "dataset.resolution=32",
                         "dataset.num_classes=2"]).dataset
    ds = load_images(cfg)
    x, y = ds[3]
    assert x.shape == (3, 32, 32) and x.dtype == torch.uint8 and y == 1
    cfg.root = str(tmp_path / "missing")
    with pytest.raises(DataError, match="dataset.root"):
        load_images(cfg)


def test_digits_are_embedded_and_resized():
    ds = load_images(compose_train([]).dataset)
    assert ds.images.shape == (1797, 1, 16, 16) and ds.images.dtype == torch.uint8
    assert ds.images.max() > 200 and set(ds.labels.tolist()) == set(range(10))


def test_uint8_float_round_trip():
    x = torch.arange(256, dtype=torch.uint8).view(1, 1, 16, 16)
    f = to_float(x)
    assert f.min() == -1 and f.max() == 1
    assert torch.equal(to_uint8(f), x)


def test_batch_plan_is_a_fresh_permutation_per_epoch_and_repeatable():
    plan = BatchPlan(size=10, batch_size=5, seed=3)
    epoch0 = torch.cat([plan.indices(0), plan.indices(1)])
    assert sorted(epoch0.tolist()) == list(range(10))
    assert not torch.equal(epoch0, torch.cat([plan.indices(2), plan.indices(3)]))
    assert torch.equal(BatchPlan(10, 5, 3).indices(7), plan.indices(7))
    with pytest.raises(ConfigError, match="batch_size"):
        BatchPlan(size=4, batch_size=5, seed=0)


def test_batch_plan_draws_each_epoch_permutation_once(monkeypatch):
    """The epoch's permutation is cached (ImageNet: 1.28M entries, n_dis batches a step) and gives
    the same batches as a fresh plan for each index, across epoch boundaries and for every rank."""
    draws = []
    real_randperm = torch.randperm
    monkeypatch.setattr(torch, "randperm", lambda *a, **kw: draws.append(a[0]) or real_randperm(*a, **kw))
    cached = [BatchPlan(size=12, batch_size=4, seed=5, rank=r, world=2) for r in range(2)]
    got = [[plan.indices(k) for k in range(9)] for plan in cached]  # 3 epochs of 3 batches
    assert len(draws) == 2 * 3  # one permutation per epoch per plan, not one per batch
    for r in range(2):
        for k in range(9):
            assert torch.equal(got[r][k], BatchPlan(12, 4, 5, r, 2).indices(k)), (r, k)
    assert torch.equal(cached[0].indices(1), got[0][1])  # going back an epoch still gives that epoch's


def test_stream_resumed_at_k_continues_identically():
    ds = load_images(compose_train([]).dataset)
    a = BatchStream(ds, 8, seed=1, hflip=True, device=torch.device("cpu"))
    batches = [a.next()[0] for _ in range(5)]
    b = BatchStream(ds, 8, seed=1, hflip=True, device=torch.device("cpu"), start=3)
    assert torch.equal(b.next()[0], batches[3]) and torch.equal(b.next()[0], batches[4])
