"""`sngan sample`: .npz and PNG-folder export, interpolation grids, class rows, and bad input."""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_module
from PIL import Image

from conftest import SMALL, compose_train, run_cli
from sngan.commands import sample as sample_cmd
from sngan.commands.sample import grid_inputs, interpolate, sample
from sngan.errors import ConfigError
from sngan.gan.generate import Latents
from sngan.train import train

ENV = {"OMP_NUM_THREADS": "1"}
TINY = ["arch.g_ch=32", "arch.d_ch=8"]
TINY_COND = ["arch=resnet", "arch.cond=true", "arch.g_ch=16", "arch.d_ch=8", "loss=hinge", "train.steps=2"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A tiny trained unconditional digits run (16 px, 1 channel)."""
    root = tmp_path_factory.mktemp("sample_run") / "run"
    train(compose_train(SMALL + TINY, run_dir=root))
    return root


@pytest.fixture(scope="module")
def cond_run_dir(tmp_path_factory):
    """A tiny trained class-conditional digits run (10 classes)."""
    root = tmp_path_factory.mktemp("sample_cond") / "run"
    train(compose_train(SMALL + TINY_COND, run_dir=root))
    return root


def sample_cfg(*overrides):
    with initialize_config_module("sngan.conf", version_base="1.3"):
        return compose("sample", overrides=["device=cpu", "progress=false", *overrides])


def leftovers(folder) -> list[str]:
    return [f for f in os.listdir(folder) if ".tmp" in f]


def test_npz_export_is_uint8_nhwc_and_reproducible_by_seed(run_dir, tmp_path):
    a, b, c = tmp_path / "a.npz", tmp_path / "b.npz", tmp_path / "c.npz"
    assert sample(sample_cfg(f"ckpt={run_dir}", "n=37", f"out={a}", "batch_size=16", "seed=1")) == str(a)
    sample(sample_cfg(f"ckpt={run_dir}", "n=37", f"out={b}", "batch_size=16", "seed=1"))
    sample(sample_cfg(f"ckpt={run_dir}", "n=37", f"out={c}", "batch_size=16", "seed=2"))
    images = np.load(a)["images"]
    assert set(np.load(a)) == {"images"}  # unconditional: no labels
    assert images.shape == (37, 16, 16, 1) and images.dtype == np.uint8
    assert images.min() < images.max()
    np.testing.assert_array_equal(images, np.load(b)["images"])
    assert not np.array_equal(images, np.load(c)["images"])
    assert leftovers(tmp_path) == []


def test_npz_images_do_not_depend_on_the_batch_size(run_dir, tmp_path):
    sample(sample_cfg(f"ckpt={run_dir}", "n=20", f"out={tmp_path / 'a.npz'}", "batch_size=7"))
    sample(sample_cfg(f"ckpt={run_dir}", "n=20", f"out={tmp_path / 'b.npz'}", "batch_size=250"))
    a, b = np.load(tmp_path / "a.npz")["images"], np.load(tmp_path / "b.npz")["images"]
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 1  # the same noise; at most float rounding apart


def test_png_folder_export_writes_n_files_of_the_model_size(run_dir, tmp_path):
    out = tmp_path / "pngs"
    sample(sample_cfg(f"ckpt={run_dir}", "n=23", f"out={out}", "batch_size=10", "seed=3"))
    names = sorted(os.listdir(out))
    assert names == [f"{i:06d}.png" for i in range(23)]
    sample(sample_cfg(f"ckpt={run_dir}", "n=23", f"out={tmp_path / 'same.npz'}", "batch_size=10", "seed=3"))
    images = np.load(tmp_path / "same.npz")["images"]
    for i in (0, 22):
        im = Image.open(out / names[i])
        assert im.size == (16, 16) and im.mode == "L"
        np.testing.assert_array_equal(np.array(im), images[i, :, :, 0])  # the same pixels as the .npz
    assert leftovers(tmp_path) == []


def test_png_folder_export_fills_an_empty_folder_and_refuses_a_full_one(run_dir, tmp_path):
    (tmp_path / "empty").mkdir()
    sample(sample_cfg(f"ckpt={run_dir}", "n=2", f"out={tmp_path / 'empty'}"))
    assert sorted(os.listdir(tmp_path / "empty")) == ["000000.png", "000001.png"]
    with pytest.raises(ConfigError, match="not empty"):
        sample(sample_cfg(f"ckpt={run_dir}", "n=2", f"out={tmp_path / 'empty'}"))


def test_conditional_npz_has_int64_labels(cond_run_dir, tmp_path):
    out = tmp_path / "c.npz"
    sample(sample_cfg(f"ckpt={cond_run_dir}", "n=30", f"out={out}", "batch_size=8"))
    data = np.load(out)
    assert data["images"].shape == (30, 16, 16, 1) and data["images"].dtype == np.uint8
    assert data["labels"].shape == (30,) and data["labels"].dtype == np.int64
    assert 0 <= data["labels"].min() and data["labels"].max() < 10 and len(set(data["labels"].tolist())) > 1


def test_conditional_grid_has_one_row_per_class(cond_run_dir, tmp_path):
    z, y, cols = grid_inputs(Latents(0, 8, 10, "normal"), 20)
    assert cols == 2 and y.tolist() == [c for c in range(10) for _ in range(2)]
    assert torch.equal(z[0::2], z[0:1].expand(10, -1))  # column 0: the same noise in every class row
    out = tmp_path / "g.png"
    sample(sample_cfg(f"ckpt={cond_run_dir}", "n=20", f"out={out}"))
    w, h = Image.open(out).size
    cell = (w - 1) // 2  # 2 images per row, 1 px padding
    assert w >= 256 and w == 2 * cell + 1 and h == 10 * cell + 1  # 10 rows: the classes


def test_interpolate_endpoints_and_methods():
    z0, z1 = torch.randn(3, 64), torch.randn(3, 64)
    for method in ("slerp", "lerp"):
        path = interpolate(z0, z1, 5, method)
        assert path.shape == (3, 5, 64)
        torch.testing.assert_close(path[:, 0], z0)
        torch.testing.assert_close(path[:, -1], z1)
    torch.testing.assert_close(interpolate(z0, z1, 3, "lerp")[:, 1], (z0 + z1) / 2)
    mid = interpolate(z0, z1, 3, "slerp")[:, 1]
    assert (mid.norm(dim=1) > ((z0 + z1) / 2).norm(dim=1)).all()  # on the arc, not the chord


def test_interp_grid_columns_vary_smoothly(run_dir, tmp_path):
    out = tmp_path / "interp.png"
    sample(sample_cfg(f"ckpt={run_dir}", "mode=interp", "interp.rows=3", "interp.steps=8", f"out={out}"))
    grid = np.array(Image.open(out).convert("L")).astype(float)
    h, w = grid.shape
    cell = (w - 1) // 8
    assert w == 8 * cell + 1 and h == 3 * cell + 1 and w >= 256
    for r in range(3):
        cells = [grid[1 + r * cell:(r + 1) * cell, 1 + c * cell:(c + 1) * cell] for c in range(8)]
        adjacent = [np.abs(cells[c + 1] - cells[c]).mean() for c in range(7)]
        ends = np.abs(cells[-1] - cells[0]).mean()
        assert ends > 0 and max(adjacent) < ends, (r, adjacent, ends)


@pytest.mark.parametrize("overrides, match", [
    (["n=0"], "n must be >= 1"),
    (["mode=video"], "unknown mode"),
    (["out=x.jpg"], "unknown extension"),
    (["mode=interp", "out=x.npz"], "mode=interp"),
    (["mode=interp", "interp.steps=1"], "interp.steps"),
    (["batch_size=0"], "batch_size"),
])
def test_bad_input_is_refused_before_anything_is_written(tmp_path, monkeypatch, overrides, match):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=match):
        sample(sample_cfg("ckpt=does_not_matter", *overrides))
    assert os.listdir(tmp_path) == []


def test_a_failure_midway_leaves_no_partial_output(run_dir, tmp_path, monkeypatch):
    written = []

    def failing_write_png(image, path):
        if len(written) == 3:
            raise RuntimeError("disk full")
        written.append(path)
        Image.fromarray(image[0].numpy()).save(path)

    monkeypatch.setattr(sample_cmd, "write_png", failing_write_png)
    with pytest.raises(RuntimeError, match="disk full"):
        sample(sample_cfg(f"ckpt={run_dir}", "n=10", f"out={tmp_path / 'pngs'}"))
    assert written and os.listdir(tmp_path) == []


def test_cli_bad_input_exits_2_with_one_line_and_no_output(run_dir, tmp_path):
    (tmp_path / "a_file").write_text("x")
    for args, match in [(["n=0"], "n must be >= 1"),
                        ([f"out={tmp_path / 'x.gif'}"], "unknown extension .gif"),
                        ([f"out={tmp_path / 'a_file' / 'x.npz'}"], "cannot write"),
                        (["ckpt=nowhere:best"], "no run folder")]:
        proc = run_cli(["sample", f"ckpt={run_dir}", *args], cwd=tmp_path, env=ENV, check=False)
        assert proc.returncode == 2, (args, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and match in lines[0], (args, proc.stderr)
    assert sorted(os.listdir(tmp_path)) == ["a_file"]


def test_cli_exports_an_npz_from_a_run_folder_with_last(run_dir, tmp_path):
    out = tmp_path / "s.npz"
    proc = run_cli(["sample", f"ckpt={run_dir}:last", "n=5", f"out={out}"], cwd=tmp_path, env=ENV)
    assert proc.stdout.strip() == str(out)
    assert np.load(out)["images"].shape == (5, 16, 16, 1)
