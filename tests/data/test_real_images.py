"""Real image sets offline: MNIST and Fashion-MNIST from their idx files (gzipped or not, in dataset.root, torchvision's
layout or the system folder), any folder of images (flat or with classes, grayscale or RGB), and the one-line errors
of missing or damaged files. Every file here is written by the test in the real format."""
from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import compose_train, dataset_of, idx_bytes, write_idx_set
from sngan.data.images import forget_loaded, load_images
from sngan.errors import DataError


@pytest.fixture(autouse=True)
def _fresh_reads():
    forget_loaded()  # files below are rewritten between reads
    yield
    forget_loaded()


def fashion(*overrides, cwd=None):
    return dataset_of(compose_train(["dataset=fashion_mnist", *overrides]))


@pytest.mark.parametrize("gz", [True, False])
def test_fashion_mnist_reads_idx_files_gzipped_or_not_and_pads_to_32(tmp_path, gz):
    images, labels = write_idx_set(tmp_path / "fm", gz=gz)
    ds = load_images(fashion(f"dataset.root={tmp_path / 'fm'}"))
    assert ds.images.shape == (6, 1, 32, 32) and ds.images.dtype == torch.uint8
    assert torch.equal(ds.images[:, 0, 2:30, 2:30], torch.from_numpy(images))
    assert ds.images[:, :, :2].sum() == 0  # the padding
    assert ds.labels.tolist() == labels.tolist()
    assert len(load_images(fashion(f"dataset.root={tmp_path / 'fm'}"), "test")) == 6


def test_mnist_reads_the_same_files_in_torchvisions_layout_gzipped(tmp_path):
    images, _ = write_idx_set(tmp_path / "MNIST" / "raw", gz=True)
    ds = load_images(compose_train(["dataset=mnist", f"dataset.root={tmp_path}", "dataset.download=false"]).dataset)
    assert torch.equal(ds.images[:, 0, 2:30, 2:30], torch.from_numpy(images))


def test_without_a_root_the_system_folder_is_read(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no data/fashion_mnist here
    images, _ = write_idx_set(tmp_path / "usr-share" / "fashion-mnist")
    ds = load_images(fashion(f"dataset.system_root={tmp_path / 'usr-share' / 'fashion-mnist'}", "dataset.download=false"))
    assert torch.equal(ds.images[:, 0, 2:30, 2:30], torch.from_numpy(images))


def test_the_default_folder_comes_before_the_system_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    local, _ = write_idx_set(tmp_path / "data" / "fashion_mnist", seed=1)
    write_idx_set(tmp_path / "system", seed=2)
    ds = load_images(fashion(f"dataset.system_root={tmp_path / 'system'}", "dataset.download=false"))
    assert torch.equal(ds.images[:, 0, 2:30, 2:30], torch.from_numpy(local))


def test_a_given_root_is_not_replaced_by_the_system_folder(tmp_path):
    write_idx_set(tmp_path / "system")
    (tmp_path / "mine").mkdir()
    with pytest.raises(DataError) as e:
        load_images(fashion(f"dataset.root={tmp_path / 'mine'}", f"dataset.system_root={tmp_path / 'system'}",
                            "dataset.download=false"))
    message = str(e.value)
    assert "\n" not in message and "train-images-idx3-ubyte[.gz]" in message and str(tmp_path / "mine") in message
    assert str(tmp_path / "system") not in message


def test_missing_files_name_what_was_looked_for_what_was_found_and_both_fixes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "system").mkdir()
    (tmp_path / "system" / "README").write_text("not the data")
    with pytest.raises(DataError) as e:
        load_images(fashion(f"dataset.system_root={tmp_path / 'system'}", "dataset.download=false"))
    message = str(e.value)
    assert "\n" not in message
    assert "train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte[.gz]" in message
    assert "README" in message and "no such folder" in message  # what each place holds
    assert "apt-get install dataset-fashion-mnist" in message and "sngan fetch --datasets fashion_mnist" in message


def test_a_failed_download_creates_nothing_inside_existing_folders(tmp_path, monkeypatch):
    import torchvision
    from urllib.error import URLError

    class Offline:
        def __init__(self, root, download=False, **kwargs):
            os.makedirs(os.path.join(root, "FashionMNIST", "raw"), exist_ok=True)  # as torchvision does first
            open(os.path.join(root, "FashionMNIST", "raw", "train-images-idx3-ubyte.gz.part"), "wb").close()
            raise RuntimeError("Error downloading train-images-idx3-ubyte.gz") from URLError("Name or service not known")

    monkeypatch.setattr(torchvision.datasets, "FashionMNIST", Offline)
    existing = tmp_path / "datasets"
    existing.mkdir()
    with pytest.raises(DataError) as e:
        load_images(fashion(f"dataset.root={existing}"))
    assert "Name or service not known" in str(e.value) and "apt-get install dataset-fashion-mnist" in str(e.value)
    assert os.listdir(existing) == [] and os.listdir(tmp_path) == ["datasets"]
    monkeypatch.chdir(tmp_path)  # root null: the download goes to data/fashion_mnist, which must not stay behind
    with pytest.raises(DataError):
        load_images(fashion("dataset.system_root=null"))
    assert sorted(os.listdir(tmp_path)) == ["datasets"]


def test_a_successful_download_lands_in_torchvisions_layout_and_is_read(tmp_path, monkeypatch):
    import torchvision

    class Online:
        def __init__(self, root, download=False, **kwargs):
            write_idx_set(os.path.join(root, "FashionMNIST", "raw"), gz=False, seed=7)

    monkeypatch.setattr(torchvision.datasets, "FashionMNIST", Online)
    (tmp_path / "fm").mkdir()
    (tmp_path / "fm" / "mine.txt").write_text("kept")
    ds = load_images(fashion(f"dataset.root={tmp_path / 'fm'}"))
    assert len(ds) == 6 and sorted(os.listdir(tmp_path / "fm")) == ["FashionMNIST", "mine.txt"]
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".sngan-download")]


# ---- damaged files: one line naming the file and what is wrong ------------------------------------------------

def _damage(folder, name, data: bytes):
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


@pytest.mark.parametrize("damage, expected", [
    (lambda b: b[:2], "shorter than the 4-byte magic"),
    (lambda b: b[:10], "truncated header"),
    (lambda b: b[:-100], "the file is truncated"),
    (lambda b: b + b"\0" * 5, "too long"),
    (lambda b: bytes([0, 0, 0x0D]) + b[3:], "idx type 0x0d"),
    (lambda b: b"PK" + b[2:], "not an idx file"),
])
def test_a_damaged_idx_file_is_named_with_what_is_wrong(tmp_path, damage, expected):
    write_idx_set(tmp_path, gz=False)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(DataError) as e:
        load_images(fashion(f"dataset.root={tmp_path}", "dataset.download=false"))
    assert "\n" not in str(e.value) and str(path) in str(e.value) and expected in str(e.value)


def test_image_and_label_counts_that_differ_name_both_files(tmp_path):
    write_idx_set(tmp_path, gz=False)
    _damage(tmp_path, "train-labels-idx1-ubyte", idx_bytes(np.zeros(5, np.uint8)))
    with pytest.raises(DataError, match="holds 6 images but .*train-labels-idx1-ubyte holds 5 labels"):
        load_images(fashion(f"dataset.root={tmp_path}", "dataset.download=false"))


def test_a_corrupt_gzip_is_named(tmp_path):
    write_idx_set(tmp_path, gz=True)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DataError) as e:
        load_images(fashion(f"dataset.root={tmp_path}", "dataset.download=false"))
    assert str(path) in str(e.value) and "cannot be read" in str(e.value)


def _cifar_folder(root):
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        with open(folder / name, "wb") as f:
            pickle.dump({"data": np.zeros((2, 3072), np.uint8), "labels": [0, 1]}, f)
    return folder


@pytest.mark.parametrize("content, expected", [
    (b"garbage, not a pickle", "is not a CIFAR-10 batch (UnpicklingError"),
    (pickle.dumps({"images": []}), "no 'data' and 'labels' entries"),
    (pickle.dumps({"data": np.zeros((2, 100), np.uint8), "labels": [0, 1]}), "not N x 3072 uint8 images"),
    (pickle.dumps({"data": np.zeros((2, 3072), np.uint8), "labels": [0]}), "holds 2 images but 1 labels"),
])
def test_a_damaged_cifar10_batch_is_named(tmp_path, content, expected):
    folder = _cifar_folder(tmp_path)
    (folder / "data_batch_3").write_bytes(content)
    cfg = compose_train(["dataset=cifar10", f"dataset.root={tmp_path}", "dataset.download=false"]).dataset
    with pytest.raises(DataError) as e:
        load_images(cfg)
    assert "\n" not in str(e.value) and str(folder / "data_batch_3") in str(e.value) and expected in str(e.value)


def test_a_truncated_stl10_file_is_named(tmp_path):
    folder = tmp_path / "stl10_binary"
    folder.mkdir()
    (folder / "train_X.bin").write_bytes(bytes(3 * 96 * 96 * 2))
    (folder / "unlabeled_X.bin").write_bytes(bytes(3 * 96 * 96 + 17))
    cfg = compose_train(["dataset=stl10", f"dataset.root={tmp_path}", "dataset.download=false"]).dataset
    with pytest.raises(DataError, match="unlabeled_X.bin holds 27665 bytes, not a whole number"):
        load_images(cfg)


# ---- folders of images ------------------------------------------------------------------------------------------

def write_folder(root, classes=("boot", "coat"), per_class=3, size=(20, 12), mode="L", seed=0):
    """PNGs in class sub-folders (classes=()) for a flat folder; image i of class c has value 40*c + 10*i + 20."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    for c, name in enumerate(classes or [None]):
        folder = root / name if name else root
        folder.mkdir(exist_ok=True)
        for i in range(per_class):
            shape = (size[1], size[0]) if mode == "L" else (size[1], size[0], 3)
            array = np.full(shape, 40 * c + 10 * i + 20, np.uint8) + rng.integers(0, 3, shape, dtype=np.uint8)
            Image.fromarray(array, mode).save(folder / f"{i}.png")
    return root


def folder_cfg(root, *overrides):
    return compose_train(["dataset=folder", f"dataset.root={root}", "dataset.resolution=8", *overrides])


def test_a_grayscale_folder_with_classes_has_labels_one_channel_and_its_own_name(tmp_path):
    root = write_folder(tmp_path / "garments", mode="L")
    cfg = folder_cfg(root, "dataset.channels=1")
    dataset = dataset_of(cfg)
    assert dataset.name == "garments" and dataset.num_classes == 2 and dataset.labelled
    ds = load_images(dataset)
    assert ds.images.shape == (6, 1, 8, 8) and ds.labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert abs(int(ds.images[3].float().mean()) - 60) <= 3  # class 1, image 0: value 60 (plus noise < 3)


def test_an_rgb_folder_image_is_resized_on_its_shorter_side_and_centre_cropped(tmp_path):
    root = tmp_path / "wide"
    root.mkdir()
    array = np.zeros((8, 24, 3), np.uint8)
    array[:, 8:16] = 255  # a white middle third: what the centre crop of an 8x24 image keeps at 8 px
    Image.fromarray(array).save(root / "a.png")
    Image.fromarray(array).save(root / "b.png")
    ds = load_images(dataset_of(folder_cfg(root, "dataset.channels=3")))
    assert ds.images.shape == (2, 3, 8, 8) and ds.images.min() == 255
    assert dataset_of(folder_cfg(root)).num_classes == 0  # flat: unlabelled


def test_rgb_images_are_converted_to_grayscale_and_back(tmp_path):
    gray = load_images(dataset_of(folder_cfg(write_folder(tmp_path / "c", mode="RGB"), "dataset.channels=1")))
    rgb = load_images(dataset_of(folder_cfg(write_folder(tmp_path / "g", mode="L"), "dataset.channels=3")))
    assert gray.images.shape[1] == 1 and rgb.images.shape[1] == 3
    assert torch.equal(rgb.images[:, 0], rgb.images[:, 2])


def test_a_folder_that_fits_is_held_in_memory_and_says_so_else_read_per_batch(tmp_path, capsys):
    from sngan.data.folder import FolderImages
    from sngan.data.images import TensorImages

    root = write_folder(tmp_path / "small")
    assert isinstance(load_images(dataset_of(folder_cfg(root))), TensorImages)
    assert "held in memory" in capsys.readouterr().err
    forget_loaded()
    streamed = load_images(dataset_of(folder_cfg(root, "dataset.memory_budget_gb=1e-9")))
    assert isinstance(streamed, FolderImages) and "decoded per batch" in capsys.readouterr().err
    x, y = streamed[4]
    assert x.shape == (3, 8, 8) and y == 1


def test_a_folder_without_images_or_without_a_root_is_refused_in_one_line(tmp_path):
    from sngan.data.options import parse_dataset

    with pytest.raises(DataError, match="dataset.root=DIR"):
        parse_dataset(compose_train(["dataset=folder"]).dataset)
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "notes.txt").write_text("x")
    with pytest.raises(DataError, match="no images under"):
        load_images(dataset_of(folder_cfg(tmp_path / "empty")))
    with pytest.raises(DataError, match="is not a folder"):
        parse_dataset(folder_cfg(tmp_path / "missing").dataset)


def test_imagenet_keeps_its_meaning_a_folder_read_per_batch_at_128_px_with_inception(tmp_path):
    root = write_folder(tmp_path / "train", mode="RGB")
    assert dataset_of(compose_train(["dataset=imagenet"])).num_classes == 1000  # models build without the data
    with pytest.raises(DataError, match="num_classes=1000 but .* has 2 class sub-folders"):
        load_images(dataset_of(compose_train(["dataset=imagenet", f"dataset.root={root}"])))
    dataset = dataset_of(compose_train(["dataset=imagenet", f"dataset.root={root}", "dataset.num_classes=null"]))
    assert (dataset.name, dataset.resolution, dataset.in_memory, dataset.metric_features) == \
        ("imagenet", 128, False, "inception")
    assert dataset.num_classes == 2 and load_images(dataset)[0][0].shape == (3, 128, 128)
