"""2-D Gaussian mixtures (ring of 8, grid of 25): a GAN benchmark with exact, cheap metrics.

The mixtures are the standard ones of the mode-collapse literature (Unrolled GAN, Metz et al. 2017;
VEEGAN, Srivastava et al. 2017; PacGAN, Lin et al. 2018):

- ring8:  8 equally weighted Gaussians with means on a circle of radius 2, (2 cos(2 pi k / 8),
          2 sin(2 pi k / 8)), k = 0..7, each with standard deviation 0.02 per coordinate.
- grid25: 25 equally weighted Gaussians with means at {-4, -2, 0, 2, 4}^2, standard deviation 0.05.

Metrics on N generated points (`mode_metrics`), as VEEGAN and PacGAN define them:

- a sample is *high quality* when it lies within 3 standard deviations (Euclidean distance <= 3 std)
  of its nearest mode; `high_quality` is the share of such samples (0..1);
- `modes` is the number of modes that received at least `min_count` high-quality samples
  (VEEGAN: 1; PacGAN counts a mode as lost below a larger threshold: pass min_count);
- `kl_modes` is KL(p || uniform) = sum_k p_k log(K p_k), with p the histogram of the high-quality samples
  over the K modes (natural log; 0 when every mode gets the same share, log K when one mode gets all).
  With no high-quality sample at all p is undefined; we then report log K, the worst attainable value.

Training batches are pure functions of (seed, batch index), like sngan.data.BatchPlan, so a resumed run
draws exactly the points an uninterrupted one would.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass

import torch

from .data import _generator
from .errors import ConfigError


@dataclass(frozen=True)
class Mixture:
    """Equally weighted isotropic Gaussians: means (K, 2) and one standard deviation."""

    name: str
    centers: torch.Tensor
    std: float

    @property
    def num_modes(self) -> int:
        return len(self.centers)


def ring8() -> Mixture:
    angles = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
    centers = 2.0 * torch.stack([angles.cos(), angles.sin()], dim=1)
    return Mixture("ring8", centers.float(), 0.02)


def grid25() -> Mixture:
    ticks = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
    centers = torch.cartesian_prod(ticks, ticks)
    return Mixture("grid25", centers, 0.05)


MIXTURES = {"ring8": ring8, "grid25": grid25}


def is_points(dataset_cfg) -> bool:
    """True for the 2-D datasets (dataset.kind: points); image datasets have kind images or none."""
    return dataset_cfg.get("kind", "images") == "points"


def mixture(name: str) -> Mixture:
    if name not in MIXTURES:
        raise ConfigError(f"unknown 2-D dataset '{name}': choose one of {', '.join(MIXTURES)}")
    return MIXTURES[name]()


def sample_mixture(mix: Mixture, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """n points and the index of the mode each came from (modes drawn uniformly)."""
    modes = torch.randint(mix.num_modes, (n,), generator=generator)
    points = mix.centers[modes] + mix.std * torch.randn(n, 2, generator=generator)
    return points, modes


class PointStream:
    """Endless training batches of 2-D points, with BatchStream's interface: next() -> (x, y), position.

    Batch k is drawn from a generator seeded by (seed, 5, k) alone: resuming at position k repeats
    exactly what an uninterrupted run would have drawn.
    """

    def __init__(self, dataset_cfg, batch_size: int, seed: int, device: torch.device, start: int = 0):
        self.mix = mixture(dataset_cfg.name)
        self.batch_size, self.seed, self.device, self.position = int(batch_size), int(seed), device, int(start)

    def batch(self, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        return sample_mixture(self.mix, self.batch_size, _generator(self.seed, 5, k))

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = self.batch(self.position)
        self.position += 1
        return x.to(self.device), y.to(self.device)


def mode_metrics(samples: torch.Tensor, mix: Mixture, min_count: int = 1) -> dict[str, float]:
    """modes covered, share of high-quality samples and KL(mode histogram || uniform); see the module doc."""
    samples = samples.detach().float().cpu()
    if samples.dim() != 2 or samples.shape[1] != 2:
        raise ValueError(f"expected (N, 2) samples, got {tuple(samples.shape)}")
    dist = torch.cdist(samples, mix.centers)
    nearest_dist, nearest = dist.min(dim=1)
    good = nearest_dist <= 3 * mix.std
    counts = torch.bincount(nearest[good], minlength=mix.num_modes).double()
    K = mix.num_modes
    if counts.sum() > 0:
        p = counts / counts.sum()
        nz = p > 0
        kl = float((p[nz] * (p[nz] * K).log()).sum())
    else:
        kl = math.log(K)
    return {"metrics/modes": float((counts >= min_count).sum()),
            "metrics/high_quality": float(good.double().mean()) if len(samples) else 0.0,
            "metrics/kl_modes": kl}


@torch.no_grad()
def generate(G, cfg, device, n: int) -> torch.Tensor:
    """n points from G on a fixed noise (seed, 6): the same latents at every evaluation."""
    z = torch.randn(n, cfg.z_dim, generator=_generator(cfg.seed, 6)).to(device)
    was_training = G.training
    G.eval()
    points = G(z).float()
    G.train(was_training)
    return points


def evaluate(G, cfg, device) -> dict[str, float]:
    """The 2-D metrics of G on dataset.eval_samples points (2,500 in VEEGAN and PacGAN)."""
    n = int(cfg.dataset.get("eval_samples", 2500))
    return mode_metrics(generate(G, cfg, device, n), mixture(cfg.dataset.name),
                        int(cfg.dataset.get("min_count", 1)))


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
    fig.savefig(path)
    plt.close(fig)


def snapshot(G, cfg, device, logger, run_dir: str, step: int) -> None:
    """The 2-D counterpart of the image grid: a scatter plot PNG in samples/ and in TensorBoard."""
    from torchvision.io import read_image

    path = os.path.join(run_dir, "samples", f"step_{step:09d}.png")
    points = generate(G, cfg, device, int(cfg.dataset.get("eval_samples", 2500)))
    scatter_png(points, mixture(cfg.dataset.name), path, f"{cfg.dataset.name}: G samples at step {step}")
    logger.image(step, "samples/fixed_z", read_image(path)[:3])
