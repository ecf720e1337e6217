"""Undecodable images are skipped with one warning, never a traceback mid-run; offline downloads fail with the
cause named and leave no folder behind."""
from __future__ import annotations

import io
import os

import numpy as np
import pytest
from PIL import Image

from sngan.errors import DataError, UserError


def image_folder(root, good: int = 4):
    rng = np.random.default_rng(0)
    for i in range(good):
        folder = root / f"class{i % 2}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)).save(folder / f"{i}.jpg")
    return root


def test_undecodable_files_are_skipped_with_one_warning_line(tmp_path, capsys):
    from sngan.data.folder import FolderImages

    root = image_folder(tmp_path / "images")
    (root / "class0" / "notes.png").write_text("not an image")
    (root / "class1" / "empty.jpg").write_bytes(b"")
    data = FolderImages(str(root), 16, 3)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(data) == 4
    assert len(err) == 1 and "skipped 2 undecodable" in err[0] and "notes.png" in err[0]
    assert all(data[i][0].shape == (3, 16, 16) for i in range(len(data)))


def test_an_image_that_fails_past_its_header_is_replaced_by_the_next_one(tmp_path, capsys):
    from sngan.data.folder import FolderImages

    root = image_folder(tmp_path / "images")
    buffer = io.BytesIO()
    noise = np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(noise).save(buffer, format="JPEG")
    (root / "class0" / "0.jpg").write_bytes(buffer.getvalue()[:1000])  # header intact, data cut short
    data = FolderImages(str(root), 16, 3)
    broken = [i for i, (path, _) in enumerate(data.samples) if path.endswith("0.jpg") and "class0" in path]
    assert len(data) == 4 and broken  # the header check lets it through ...
    x, y = data[broken[0]]         # ... decoding it fails, the next image stands in (the same one every time)
    nxt = data[(broken[0] + 1) % len(data)]
    assert (x == nxt[0]).all() and y == nxt[1]
    assert "could not be decoded" in capsys.readouterr().err


def test_a_folder_with_no_readable_image_is_refused(tmp_path):
    from sngan.data.folder import FolderImages

    (tmp_path / "images" / "c").mkdir(parents=True)
    (tmp_path / "images" / "c" / "a.png").write_text("x")
    with pytest.raises(DataError, match="readable image"):
        FolderImages(str(tmp_path / "images"), 16, 3)


def test_failed_downloads_name_the_cause_and_leave_no_folder(tmp_path, monkeypatch):
    import torchvision
    from urllib.error import URLError

    from sngan.commands.fetch import fetch_dataset, fetch_inception
    from sngan.metrics import inception

    def offline(*args, **kwargs):
        try:
            raise URLError("[Errno -2] Name or service not known")
        except URLError as e:
            raise RuntimeError("Error downloading train-images-idx3-ubyte.gz:") from e

    monkeypatch.setattr(torchvision.datasets, "MNIST", offline)
    monkeypatch.setattr(torchvision.datasets, "CIFAR10", offline)
    with pytest.raises(UserError) as e:
        fetch_dataset("cifar10", str(tmp_path / "data"))
    assert "Name or service not known" in str(e.value) and "this machine cannot reach" in str(e.value)
    assert not (tmp_path / "data").exists()

    def no_network(url, dst, progress=True):
        raise URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(inception.torch.hub, "download_url_to_file", no_network)
    with pytest.raises(UserError, match="Name or service not known"):
        fetch_inception(str(tmp_path / "cache" / "hub" / "checkpoints" / "w.pth"))
    assert not (tmp_path / "cache").exists()
    assert os.listdir(tmp_path) == []
