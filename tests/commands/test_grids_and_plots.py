"""Sample grids at least 256 px wide (nearest-neighbour enlargement), and report plots whose lines carry
markers, so a run with a single logged point still shows it."""
from __future__ import annotations

import pytest
import torch

from sngan.commands.report import plots
from sngan.gan.generate import sample_grid, to_grid
from sngan.commands.report.reader import Run


@pytest.mark.parametrize("n, size, channels", [(16, 16, 1), (9, 16, 1), (64, 32, 3), (1, 16, 1), (3, 16, 3)])
def test_small_grids_are_enlarged_to_at_least_256_px(n, size, channels):
    grid = to_grid(torch.rand(n, channels, size, size) * 2 - 1)
    assert grid.dtype == torch.float32 and grid.shape[0] == 3
    assert grid.shape[2] >= 256
    assert 0.0 <= grid.min() and grid.max() <= 1.0


def test_enlargement_is_nearest_neighbour_by_the_smallest_integer_factor():
    images = torch.rand(16, 1, 16, 16) * 2 - 1
    grid = to_grid(images)
    # 4 per row, 1 px padding: 4 * (16k + 1) + 1 >= 256 first holds at k = 4
    assert grid.shape[1:] == (4 * (16 * 4 + 1) + 1,) * 2
    first = grid[0, 1:1 + 64, 1:1 + 64]  # the first image, enlarged
    expected = images[0, 0].add(1).div(2).repeat_interleave(4, 0).repeat_interleave(4, 1)
    torch.testing.assert_close(first, expected)
    assert torch.equal(first[::4, ::4], first[3::4, 3::4])  # every 4x4 block holds one pixel


def test_large_images_are_not_enlarged_and_rows_can_be_set():
    assert to_grid(torch.zeros(4, 3, 128, 128)).shape == (3, 2 * 129 + 1, 2 * 129 + 1)
    grid = to_grid(torch.zeros(6, 3, 16, 16), nrow=3)  # 3 per row, 2 rows
    k = grid.shape[2] // 3 // 16
    assert grid.shape[2] >= 256 and grid.shape[1:] == (2 * (16 * k + 1) + 1, 3 * (16 * k + 1) + 1)


def test_sample_grid_uses_the_enlarged_grid():
    class G(torch.nn.Module):
        def forward(self, z, y=None):
            return z.view(len(z), 1, 4, 4).tanh()

    grid = sample_grid(G(), torch.randn(4, 16))
    assert grid.shape[2] >= 256


def one_point_run(path, norm="sn", setting="C"):
    scalars = [{"step": 10, "tag": "sigma_exact/D/fc", "value": 1.5}, {"step": 10, "tag": "sigma/D/fc", "value": 1.4},
               {"step": 10, "tag": "metrics/FID", "value": 30.0}]
    return Run(str(path), {"norm": {"name": norm}, "setting_name": setting}, scalars,
               {"step": 10, "spectra": {"main.00": [2.0, 1.0], "fc": [2.0]}})


@pytest.fixture
def captured(monkeypatch):
    """The figures the plots would save, kept open for inspection."""
    figs = {}

    def keep(fig, out, name):
        figs[name] = fig
        return name

    monkeypatch.setattr(plots, "_save", keep)
    yield figs
    for fig in figs.values():
        plots.plt.close(fig)


def data_lines(fig):
    return [line for ax in fig.axes for line in ax.get_lines() if len(line.get_xdata()) > 0]


def test_every_line_of_every_figure_draws_markers(tmp_path, captured):
    runs = [one_point_run(tmp_path / "a"), one_point_run(tmp_path / "b", norm="none")]
    names = plots.all_figures(runs, ["metrics/FID"], str(tmp_path), "g")
    assert {"fig2_fid_g.png", "sigma_estimate_g.png", "fig3_spectra_g.png"} <= set(names)
    titles = [ax.get_title() for ax in captured["fig3_spectra_g.png"].axes if ax.get_title()]
    assert titles == ["main.00"]  # a layer with one singular value has no spectrum to draw: no empty fc panel
    for name in ("fig2_fid_g.png", "sigma_estimate_g.png", "fig3_spectra_g.png"):
        lines = data_lines(captured[name])
        assert lines, name
        for line in lines:
            assert line.get_marker() not in (None, "None", "", " "), (name, line)
            assert line.get_markersize() > 0


def test_a_single_sigma_report_is_drawn_as_visible_markers(tmp_path, captured):
    plots.fig_sigma([one_point_run(tmp_path / "a")], str(tmp_path), "g")
    lines = data_lines(captured["sigma_estimate_g.png"])
    exact = [line for line in lines if line.get_linestyle() == "-"]
    estimate = [line for line in lines if line.get_linestyle() == "--"]
    assert len(exact) == 1 and len(estimate) == 1
    assert list(exact[0].get_xdata()) == [10] and list(exact[0].get_ydata()) == [1.5]
    assert exact[0].get_marker() == "o" and estimate[0].get_marker() == "x"
