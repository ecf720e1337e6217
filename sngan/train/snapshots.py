"""Sample snapshots during training: the fixed-noise grid (per class too for conditional runs), or for the
2-D datasets a scatter plot of generated points over the modes; PNGs in the run folder and TB images."""
from __future__ import annotations

import torch
from torchvision.utils import save_image

from ..data.points import Mixture, mixture
from ..fsutil import atomic_write
from ..gan.generate import Latents, class_grids, sample_grid
from ..metrics.modes import generate_points
from ..run.layout import RunFolder


def scatter_png(points: torch.Tensor, mix: Mixture, path: str, title: str) -> None:
    """Generated points over the real modes' 3-std circles, saved as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = points.detach().cpu().numpy()
    lim = float(mix.centers.abs().max()) * 1.4 + 0.5
    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    ax.scatter(points[:, 0], points[:, 1], s=3, alpha=0.5, color="tab:blue", label="generated")
    for i, (cx, cy) in enumerate(mix.centers.tolist()):
        ax.add_patch(plt.Circle((cx, cy), 3 * mix.std, fill=False, color="tab:red", lw=1,
                                label="mode (3 std)" if i == 0 else None))
    ax.scatter(mix.centers[:, 0], mix.centers[:, 1], marker="x", s=20, color="tab:red")
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    atomic_write(path, lambda f: fig.savefig(f, format="png"), durable=False)
    plt.close(fig)


def _save_png(grid: torch.Tensor, path: str) -> None:
    """The grid as a PNG, written whole (a full disk leaves no partial image: a DiskError instead)."""
    atomic_write(path, lambda f: save_image(grid, f, format="png"), durable=False)


class SampleWriter:
    """samples(G, step): write this step's samples of G (the EMA copy when on)."""

    def __init__(self, run: RunFolder, logger, latents: Latents, fixed_z: torch.Tensor, device: torch.device,
                 points_dataset: str | None, points_num: int, class_grid_limit: int):
        self.run, self.logger, self.latents, self.device = run, logger, latents, device
        self.fixed_z = fixed_z
        self.fixed_y = latents.grid_labels(len(fixed_z), device)
        self.mix = mixture(points_dataset) if points_dataset else None
        self.points_num, self.class_grid_limit = points_num, class_grid_limit

    def __call__(self, G, step: int) -> None:
        if self.mix is not None:
            return self._scatter(G, step)
        grid = sample_grid(G, self.fixed_z, self.fixed_y)
        _save_png(grid, self.run.sample_grid(step))
        self.logger.image(step, "samples/fixed_z", grid)
        self._class_grids(G, step)

    def _scatter(self, G, step: int) -> None:
        from torchvision.io import read_image

        path = self.run.sample_grid(step)
        points = generate_points(G, self.latents.seed, self.latents.z_dim, self.device, self.points_num)
        scatter_png(points, self.mix, path, f"{self.mix.name}: G samples at step {step}")
        self.logger.image(step, "samples/fixed_z", read_image(path)[:3])

    def _class_grids(self, G, step: int) -> list[str]:
        """samples/class_<c>/step_<step>.png and TB image samples/class_<c> for the first class_grid_limit
        classes (all of them for CIFAR-10; ImageNet's 1000 would be too many); none for unconditional runs."""
        paths = []
        for c, grid in class_grids(G, self.fixed_z, range(min(self.latents.num_classes, self.class_grid_limit))).items():
            paths.append(self.run.class_grid(c, step))
            _save_png(grid, paths[-1])
            self.logger.image(step, f"samples/class_{c:04d}", grid)
        return paths
