"""Diagnostics of D's layers, two registry entries:

- `sigma` (every metrics.every.sigma): SN's power-iteration sigma, the exact sigma of each weight, the Lipschitz
  constant of each conv as an operator, and singular-value spectra (the paper's Fig. 3, live);
- `sigma_normalized` (every metrics.every.sigma_normalized, denser): sigma(W_bar), the exact sigma of the weight each
  layer computes with (the paper's Fig. 9). It moves from one G update to the next by as much as it moves over
  training (SN's one power iteration per step lags a weight whose top singular values are close), so a sparse
  schedule samples that jitter, not a trend; it has its own cheap schedule, and `sngan report` averages it over
  windows.

Layers are named by their module path with indices zero-padded (main.03, blocks.1.conv1), so TensorBoard
sorts them in network order. Tags: sigma/D/<layer> (SN's estimate), sigma_exact/D/<layer> (SVD of the trained weight),
sigma_normalized/D/<layer> (SVD of the weight the layer computes with), lipschitz/D/<layer>;
histograms spectrum/D/<layer>; every spectrum also goes to spectra.jsonl. TensorBoard's Custom Scalars tab
overlays estimate, exact sigma and sigma(W_bar) per layer.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..errors import ConfigError
from ..gan.norms import raw_weight, sigma_estimates, singular_values_of, weighted_layers
from ..gan.norms.spectral import exact_sigma
from .lipschitz import conv_input_sizes, lipschitz_bounds
from .precision import on_device
from .registry import Metric, MetricContext, register_metric


def layer_name(path: str) -> str:
    """A module path with its indices zero-padded: main.3 -> main.03 (text order = network order)."""
    return ".".join(part.zfill(2) if part.isdigit() else part for part in path.split("."))


def sigma_report(D, input_sizes: dict | None, lipschitz_iters: int, seed: int, step: int) -> tuple[dict[str, float], dict[str, torch.Tensor]]:
    """Per D layer: SN's power-iteration estimate, the exact sigma of the trained weight, the singular-value
    spectrum of the weight the layer computes with, and (for convs whose input size is in `input_sizes`) the
    Lipschitz constant of the convolution by `lipschitz_iters` iterations from the named stream (seed, step)."""
    scalars, spectra = {}, {}
    for layer, est in sigma_estimates(D).items():
        scalars[f"sigma/D/{layer_name(layer)}"] = est
    for layer, module in weighted_layers(D).items():
        name = layer_name(layer)
        scalars[f"sigma_exact/D/{name}"] = exact_sigma(raw_weight(module))
        spectra[name] = singular_values_of(module)
    bounds = lipschitz_bounds(D, input_sizes or {}, lipschitz_iters, seed, step)
    scalars.update({f"lipschitz/D/{layer_name(layer)}": v for layer, v in bounds.items()})
    return scalars, spectra


def sigma_normalized(D) -> dict[str, float]:
    """sigma(W_bar) per D layer: the largest singular value of the weight the layer computes with (read without
    running SN's iteration)."""
    return {f"sigma_normalized/D/{layer_name(layer)}": singular_values_of(module)[0].item()
            for layer, module in weighted_layers(D).items()}


def sigma_layout(D) -> dict:
    """TensorBoard custom-scalars layout: per D layer one chart of SN's estimate over the exact sigma."""
    charts = {}
    for layer in weighted_layers(D):
        name = layer_name(layer)
        charts[name] = ["Multiline", [f"sigma/D/{name}", f"sigma_exact/D/{name}", f"sigma_normalized/D/{name}"]]
    return {"sigma of D's layers: SN estimate, exact, and sigma(W_bar) (paper Fig. 9)": charts}


@dataclass(frozen=True)
class SigmaOptions:
    lipschitz_iters: int     # power iterations of each conv's operator norm per report (from a fresh seeded start)


@register_metric("sigma")
class SigmaDiagnostics(Metric):
    at_start = True  # the spectra of the initialization: what "broad" is measured against
    node = "sigma"
    Options = SigmaOptions

    def __init__(self, env, options):
        super().__init__(env, options)
        if options.lipschitz_iters < 1:
            raise ConfigError(f"metrics.sigma.lipschitz_iters must be >= 1, got {options.lipschitz_iters}")
        self.input_sizes: dict[str, tuple] = {}      # conv layer -> input size, for the Lipschitz report
        self.layout_written = False

    def prepare(self, G, D) -> None:
        """Record D's conv input sizes by one eager forward, before any speed option wraps D."""
        shape = self.env.shape
        if shape.points:
            return
        device = next(D.parameters()).device
        y = torch.zeros(1, dtype=torch.long, device=device) if shape.num_classes else None
        self.input_sizes = conv_input_sizes(D, torch.zeros(1, shape.channels, shape.resolution, shape.resolution,
                                                           device=device), y)

    def __call__(self, ctx: MetricContext) -> dict[str, float]:
        if not self.layout_written:
            ctx.logger.custom_scalars(sigma_layout(ctx.D))
            self.layout_written = True
        with on_device(self.device):  # fp32 (TF32 off), whatever the loop runs in
            scalars, spectra = sigma_report(ctx.D, self.input_sizes, self.options.lipschitz_iters, self.env.seed,
                                            ctx.step)
        for layer, sv in spectra.items():
            ctx.logger.histogram(ctx.step, f"spectrum/D/{layer}", sv)
        ctx.run.append_jsonl(ctx.run.spectra, {"step": ctx.step, "norm": self.env.norm,
                                               "spectra": {k: v.tolist() for k, v in spectra.items()}})
        return scalars


@register_metric("sigma_normalized")
class SigmaNormalized(Metric):
    at_start = True  # step 0: the initialization's sigma(W_bar), where Fig. 9 starts

    def __call__(self, ctx: MetricContext) -> dict[str, float]:
        with on_device(self.device):  # fp32 (TF32 off), whatever the loop runs in
            return sigma_normalized(ctx.D)
