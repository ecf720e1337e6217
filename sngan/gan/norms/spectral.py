"""Spectral normalization as a torch parametrization, and exact singular values for logging.

torch.nn.utils.parametrizations.spectral_norm is the model here; this version adds what it lacks: the power
iteration never runs in half precision (fp32, or fp64 for a fp64 weight, even under bf16 autocast), the estimate is
readable without running an iteration, and the bidirectional / scaled variant (BSSN) shares the code.

Which path computes W / sigma:
- eval mode: sigma = u^T W v with the stored u, v (frozen): samples, folding, logs (`sigma`);
- training, one layer at a time (the CPU default): `power_iters` iterations update u, v, then autograd through
  W / (u^T W v) with u, v constants (the paper's gradient);
- training, grouped (speed.grouped_sn, the CUDA default; sngan/gan/norms/grouped.py): a hook on the model computes
  every layer's W / sigma at once before each forward, with the same iteration and gradient in a few batched kernels;
  each layer's forward then hands back its part (`GroupedSpectralNorm.take`).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize


def compute_dtype(weight: torch.Tensor) -> torch.dtype:
    """What SN computes in: float64 for a float64 weight, else float32 (never half precision, even under autocast or
    for a half weight: the power iteration's normalizations lose too much there)."""
    return torch.float64 if weight.dtype == torch.float64 else torch.float32


def weight_matrix(weight: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """A conv weight viewed as the paper's (out, in*k*k) matrix: its `dim` axis (the output channels:
    0 for Conv2d and Linear, 1 for ConvTranspose2d, as torch's spectral_norm) becomes the rows."""
    if dim:
        weight = weight.transpose(0, dim)
    return weight.reshape(weight.shape[0], -1)


def exact_sigma(weight: torch.Tensor) -> float:
    """Largest singular value of the reshaped weight, by SVD (no estimate)."""
    return torch.linalg.matrix_norm(weight_matrix(weight.detach()).double(), ord=2).item()


def singular_values(weight: torch.Tensor) -> torch.Tensor:
    """All singular values of the reshaped weight, largest first."""
    return torch.linalg.svdvals(weight_matrix(weight.detach()).double()).float()


class SpectralNorm(nn.Module):
    """W -> scale * W / sigma(W), sigma by power iteration on a persistent u (and v); see the module doc for which
    path runs when. BSSN (bidirectional) averages sigma over the (out, in*k*k) and (in, out*k*k) reshapes."""

    def __init__(self, weight: torch.Tensor, power_iters: int = 1, eps: float = 1e-12,
                 scale: float = 1.0, bidirectional: bool = False, dim: int = 0, warmup_iters: int = 15):
        super().__init__()
        if power_iters < 1:
            raise ValueError("power_iters must be >= 1")
        self.power_iters, self.eps, self.scale, self.bidirectional = power_iters, eps, scale, bidirectional
        self.dim = dim
        self.group = None  # the GroupedSpectralNorm of its model, when grouped (speed.grouped_sn)
        dt = compute_dtype(weight)
        # u, v drawn from the global RNG (seeded by the trainer), then refined as torch does; in SN's compute dtype
        # (module.double() / .to() convert them with the weight)
        for (rows, cols), (u_name, v_name) in zip(self.shapes(weight), (("_u", "_v"), ("_u_t", "_v_t"))):
            self.register_buffer(u_name, F.normalize(weight.new_empty(rows).normal_(0, 1), dim=0, eps=eps).to(dt))
            self.register_buffer(v_name, F.normalize(weight.new_empty(cols).normal_(0, 1), dim=0, eps=eps).to(dt))
        # torch's spectral_norm refines the random u, v by 15 iterations at build, so the first sigma is close to
        # the exact one; the official Chainer links start from the raw u (warmup_iters=0)
        self.iterate(weight, warmup_iters)

    def dims(self, weight: torch.Tensor) -> tuple[int, ...]:
        """The axes that become the rows of the reshapes sigma is taken over: (dim,), or both for BSSN."""
        return (self.dim, 1 - self.dim) if self.bidirectional and weight.dim() > 2 else (self.dim,)

    def shapes(self, weight: torch.Tensor) -> list[tuple[int, int]]:
        return [tuple(weight_matrix(weight, d).shape) for d in self.dims(weight)]

    def vectors(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(u, v) per reshape, the buffers themselves."""
        pairs = [(self._u, self._v)]
        return pairs + [(self._u_t, self._v_t)] if hasattr(self, "_u_t") else pairs

    def _pairs(self, weight: torch.Tensor):
        """(matrix in the compute dtype, u, v) per reshape."""
        dt = compute_dtype(weight)
        for d, (u, v) in zip(self.dims(weight), self.vectors()):
            yield weight_matrix(weight, d).to(dt), u, v

    @torch.no_grad()
    def iterate(self, weight: torch.Tensor, n: int) -> None:
        """n power iterations on `weight`, updating u and v in place (the buffers stay the same tensors: DDP and
        checkpoints see them)."""
        with torch.autocast(weight.device.type, enabled=False):
            for mat, u, v in self._pairs(weight):
                for _ in range(n):
                    v.copy_(F.normalize(mat.t() @ u.to(mat.dtype), dim=0, eps=self.eps))
                    u.copy_(F.normalize(mat @ v.to(mat.dtype), dim=0, eps=self.eps))

    def sigma(self, weight: torch.Tensor) -> torch.Tensor:
        """The current estimate u^T W v (averaged over both reshapes for BSSN), u and v frozen."""
        with torch.autocast(weight.device.type, enabled=False):
            sigmas = [u.to(mat.dtype, copy=True) @ (mat @ v.to(mat.dtype, copy=True)) for mat, u, v in self._pairs(weight)]
        return sigmas[0] if len(sigmas) == 1 else sum(sigmas) / len(sigmas)

    def _train_sigma(self, weight: torch.Tensor) -> torch.Tensor:
        """power_iters iterations, then sigma = u^T (W v) with the last W v reused: one matrix-vector product per
        iteration and reshape beyond the iteration itself, no clones (u and v are fresh tensors the graph may
        keep; the buffers take copies). Gradients flow through W v with u, v constants, as in the paper."""
        sigmas = []
        with torch.autocast(weight.device.type, enabled=False):
            for mat, u_buf, v_buf in self._pairs(weight):
                u = u_buf.to(mat.dtype)
                with torch.no_grad():
                    for _ in range(self.power_iters - 1):
                        u = F.normalize(mat @ F.normalize(mat.t() @ u, dim=0, eps=self.eps), dim=0, eps=self.eps)
                    v = mat.t() @ u
                    v = v / torch.linalg.vector_norm(v).clamp_min(self.eps)
                wv = mat @ v  # differentiable in W
                with torch.no_grad():
                    u = wv / torch.linalg.vector_norm(wv).clamp_min(self.eps)
                    u_buf.copy_(u)
                    v_buf.copy_(v)
                sigmas.append(torch.dot(u, wv))
        return sigmas[0] if len(sigmas) == 1 else sum(sigmas) / len(sigmas)

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        if self.training and self.group is not None:
            normalized = self.group.take(self)
            if normalized is not None:
                return normalized if normalized.dtype == weight.dtype else normalized.to(weight.dtype)
        sigma = self._train_sigma(weight) if self.training else self.sigma(weight)
        w = weight.to(compute_dtype(weight)) / sigma
        if self.scale != 1.0:
            w = self.scale * w
        return w if w.dtype == weight.dtype else w.to(weight.dtype)


def spectral_norm(module: nn.Module, name: str = "weight", **kwargs) -> nn.Module:
    """Register SpectralNorm on module.<name> (kwargs go to SpectralNorm)."""
    kwargs.setdefault("dim", 1 if isinstance(module, nn.ConvTranspose2d) else 0)  # output channels first
    parametrize.register_parametrization(module, name, SpectralNorm(getattr(module, name), **kwargs))
    return module


def find_spectral_norm(module: nn.Module, name: str = "weight") -> SpectralNorm | None:
    """The SpectralNorm parametrization on module.<name>, if there is one."""
    if parametrize.is_parametrized(module, name):
        for p in getattr(module.parametrizations, name):
            if isinstance(p, SpectralNorm):
                return p
    return None
