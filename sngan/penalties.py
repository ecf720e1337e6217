"""Terms added to D's loss by the penalty baselines: gradient penalty (norm=gp) and orthonormal
regularization (norm=ortho)."""
from __future__ import annotations

import torch
from torch import nn

from .data import _generator
from .errors import ConfigError
from .norms import weighted_layers

GP_STREAM = 17  # the random stream of the interpolation weights (others: 1 data order, 2 flips, 3 noise, 4 labels)


def gradient_penalty(D: nn.Module, real: torch.Tensor, fake: torch.Tensor, y=None,
                     generator: torch.Generator | None = None, e: torch.Tensor | None = None) -> torch.Tensor:
    """E[(||grad_x D(x_hat)||_2 - 1)^2] at x_hat = e * real + (1 - e) * fake, e ~ U[0, 1] per image
    (the one-centered penalty of WGAN-GP; e drawn from `generator` unless given). Differentiable in
    D's parameters (double backward)."""
    if e is None:
        e = torch.rand(len(real), generator=generator)
    e = e.to(real.device, real.dtype).view(-1, *[1] * (real.dim() - 1))
    x_hat = (e * real.detach() + (1 - e) * fake.detach()).requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x_hat, y).sum(), x_hat, create_graph=True)
    return (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()


def orthonormal_penalty(net: nn.Module) -> torch.Tensor:
    """Sum over weighted layers of ||W^T W - I||_F^2, W the weight reshaped (out, in*k*k).

    W^T W and W W^T share their nonzero eigenvalues, so the two norms differ by the constant
    (cols - rows): computed on the smaller Gram matrix, the value and gradient are exact and a conv
    with in*k*k in the thousands costs no (in*k*k)^2 matrix.
    """
    total = None
    for layer in weighted_layers(net).values():
        w = layer.weight.reshape(layer.weight.shape[0], -1)
        rows, cols = w.shape
        gram = w @ w.t() if rows <= cols else w.t() @ w
        eye = torch.eye(len(gram), device=w.device, dtype=w.dtype)
        term = (gram - eye).pow(2).sum() + max(0, cols - rows)
        total = term if total is None else total + term
    return total if total is not None else torch.zeros(())


def penalty_weights(norm_cfg) -> tuple[float, float]:
    """(gradient-penalty weight, orthonormal weight) for this norm, checked."""
    gp = float(norm_cfg.get("gp_weight", 10.0)) if norm_cfg.name == "gp" else 0.0
    ortho = float(norm_cfg.get("ortho_weight", 1e-4)) if norm_cfg.name == "ortho" else 0.0
    if gp < 0 or ortho < 0:
        raise ConfigError(f"norm.gp_weight and norm.ortho_weight must be >= 0, got {gp}, {ortho}")
    return gp, ortho


def d_penalties(cfg, D: nn.Module, real: torch.Tensor, fake: torch.Tensor, y, *keys: int,
                shard=None) -> dict[str, torch.Tensor]:
    """The weighted terms to add to D's loss, by log tag (empty unless norm is gp or ortho).

    The interpolation weights are a pure function of (seed, keys), so resumed runs draw the same;
    they are drawn for the global batch and `shard` picks this rank's rows (data-parallel runs then
    use the weights a single process would).
    """
    gp_weight, ortho_weight = penalty_weights(cfg.norm)
    if cfg.norm.name == "gp" and (cfg.get("speed") or {}).get("compile", False):
        raise ConfigError("norm=gp differentiates D's input gradient (double backward), which torch.compile "
                          "does not support: pass speed.compile=false")
    terms = {}
    if cfg.norm.name == "gp":
        e = torch.rand(int(cfg.batch_size), generator=_generator(cfg.seed, GP_STREAM, *keys))
        e = shard(e) if shard is not None else e[:len(real)]
        terms["loss/gp"] = gp_weight * gradient_penalty(D, real, fake, y, e=e)
    if cfg.norm.name == "ortho":
        terms["loss/ortho"] = ortho_weight * orthonormal_penalty(D)
    return terms
