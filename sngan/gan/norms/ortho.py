"""norm=ortho: the SN paper's orthonormal baseline (arXiv 1802.05957, §4): every D weight initialized as a
random orthonormal operator (norm.orthogonal_init), then the orthonormal regularization of Brock et al.
(2016) added to D's loss: ortho_weight * sum over D layers of ||W^T W - I||_F^2, W reshaped (out, in*k*k)."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ...errors import ConfigError
from .layers import weighted_layers
from .registry import Norm, register_norm


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


@register_norm("ortho")
class OrthonormalRegularization(Norm):
    @dataclass(frozen=True)
    class Options:
        ortho_weight: float     # the regularizer's coefficient
        orthogonal_init: bool   # start every D weight as a random orthonormal operator

    def validate(self) -> None:
        if self.options.ortho_weight < 0:
            raise ConfigError(f"norm.ortho_weight must be >= 0, got {self.options.ortho_weight}")

    @torch.no_grad()
    def init(self, D) -> None:
        if self.options.orthogonal_init:
            for layer in weighted_layers(D).values():
                nn.init.orthogonal_(layer.weight)  # rows or columns of the (out, in*k*k) matrix orthonormal

    def penalty(self, D, real, fake, y, *, rng, batch_size, shard):
        return {"loss/ortho": self.options.ortho_weight * orthonormal_penalty(D)}
