"""The 2-D benchmark's metrics (dataset=ring8 or grid25) on N generated points, as VEEGAN and PacGAN
define them:

- a sample is *high quality* when it lies within 3 standard deviations (Euclidean distance <= 3 std)
  of its nearest mode; `high_quality` is the share of such samples (0..1);
- `modes` is the number of modes that received at least `min_count` high-quality samples
  (VEEGAN: 1; PacGAN counts a mode as lost below a larger threshold: pass metrics.modes.min_count);
- `kl_modes` is KL(p || uniform) = sum_k p_k log(K p_k), with p the histogram of the high-quality samples
  over the K modes (natural log; 0 when every mode gets the same share, log K when one mode gets all).
  With no high-quality sample at all p is undefined; we then report log K, the worst attainable value. This is the
  reverse KL of PacGAN's Table 1 (generated mode distribution against the true, uniform one).

Two reference rows tell what these numbers mean (`reference_rows`, drawn by `sngan report` beside every 2-D table):
N samples of the real mixture (what a perfect G scores), and N samples of one Gaussian fitted to the mixture (its
mean and covariance): a trivial G that covers the plane without any mode. On grid25 that Gaussian reaches about 19
modes with ~3% high-quality samples: mode counts alone cannot tell it from a mixture, the high-quality share can.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..data import streams
from ..data.points import Mixture, mixture
from ..errors import ConfigError
from ..gan.generate import eval_mode
from .registry import Metric, MetricContext, register_metric


def mode_metrics(samples: torch.Tensor, mix: Mixture, min_count: int) -> dict[str, float]:
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


def fitted_gaussian(mix: Mixture) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean, covariance) of the mixture: the one Gaussian that matches its first two moments."""
    centers = mix.centers.double()
    mean = centers.mean(0)
    spread = centers - mean
    cov = spread.t() @ spread / len(centers) + mix.std ** 2 * torch.eye(2, dtype=torch.float64)
    return mean, cov


def reference_rows(mix: Mixture, num_samples: int, min_count: int, seed: int = 0) -> dict[str, dict[str, float]]:
    """The mode metrics of `num_samples` points of the real mixture and of one Gaussian fitted to it (see the module
    doc), drawn from the named stream POINTS_EVAL (key 1), so every report shows the same reference numbers."""
    from ..data.points import sample_mixture

    g = streams.generator(seed, streams.POINTS_EVAL, 1)
    real, _ = sample_mixture(mix, num_samples, g)
    mean, cov = fitted_gaussian(mix)
    blob = mean + torch.randn(num_samples, 2, generator=g, dtype=torch.float64) @ torch.linalg.cholesky(cov).t()
    return {"real mixture": mode_metrics(real, mix, min_count), "one Gaussian": mode_metrics(blob.float(), mix, min_count)}


@torch.no_grad()
def generate_points(G, seed: int, z_dim: int, device, n: int) -> torch.Tensor:
    """n points from G on a fixed noise (streams.POINTS_EVAL): the same latents at every evaluation."""
    z = torch.randn(n, z_dim, generator=streams.generator(seed, streams.POINTS_EVAL)).to(device)
    with eval_mode(G):
        return G(z).float()


@register_metric("modes")
class ModeMetrics(Metric):
    node = "modes"

    @dataclass(frozen=True)
    class Options:
        num_samples: int    # generated points per evaluation and in the scatter plot
        min_count: int      # high-quality samples a mode needs to count as covered

    @classmethod
    def applies(cls, env, options) -> bool:
        return env.dataset.points

    def __init__(self, env, options):
        super().__init__(env, options)
        if options.num_samples < 1 or options.min_count < 1:
            raise ConfigError(f"metrics.modes.num_samples and min_count must be >= 1, got {options.num_samples}, "
                              f"{options.min_count}")
        self.mix = mixture(env.dataset.name)

    def __call__(self, ctx: MetricContext) -> dict[str, float]:
        points = generate_points(ctx.G, self.env.seed, self.env.shape.z_dim, self.device, self.options.num_samples)
        return mode_metrics(points, self.mix, self.options.min_count)
