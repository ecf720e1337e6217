"""Spectral normalization as a torch parametrization, and exact singular values for logging.

torch.nn.utils.parametrizations.spectral_norm is the model here; this version adds what it lacks:
the power iteration always runs in fp32 (under bf16 autocast torch's would not), the estimate is
readable without running an iteration, and the bidirectional / scaled variant (BSSN) shares the code.

Grouped mode (speed.grouped_sn, the CUDA default): a forward pre-hook on the model runs the power iteration of all
its SN layers at once before each training forward, with one fused (foreach) kernel per normalization and copy
for all layers instead of several per layer; each layer's forward is then one division by that sigma, its
backward the paper's gradient written out (the same values as autograd's, u and v constants). The CPU keeps the
per-layer path (bitwise as before).
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
    """W -> scale * W / sigma(W), sigma by power iteration on a persistent u (and v).

    In training mode each forward runs `power_iters` iterations and updates u, v in place; in eval
    mode u, v are frozen. Gradients flow through W / sigma with u, v treated as constants.
    """

    def __init__(self, weight: torch.Tensor, power_iters: int = 1, eps: float = 1e-12,
                 scale: float = 1.0, bidirectional: bool = False, dim: int = 0, warmup_iters: int = 15):
        super().__init__()
        if power_iters < 1:
            raise ValueError("power_iters must be >= 1")
        self.power_iters, self.eps, self.scale, self.bidirectional = power_iters, eps, scale, bidirectional
        self.dim = dim
        mat, dt = weight_matrix(weight, dim), compute_dtype(weight)
        # u, v drawn from the global RNG (seeded by the trainer), then refined as torch does; in SN's compute dtype
        # (module.double() / .to() convert them with the weight)
        u = F.normalize(mat.new_empty(mat.shape[0]).normal_(0, 1), dim=0, eps=eps).to(dt)
        v = F.normalize(mat.new_empty(mat.shape[1]).normal_(0, 1), dim=0, eps=eps).to(dt)
        self.register_buffer("_u", u)
        self.register_buffer("_v", v)
        if bidirectional and weight.dim() > 2:
            mat_t = weight_matrix(weight, 1 - dim)
            self.register_buffer("_u_t", F.normalize(mat_t.new_empty(mat_t.shape[0]).normal_(), dim=0, eps=eps).to(dt))
            self.register_buffer("_v_t", F.normalize(mat_t.new_empty(mat_t.shape[1]).normal_(), dim=0, eps=eps).to(dt))
        # torch's spectral_norm refines the random u, v by 15 iterations at build, so the first sigma is close to
        # the exact one; the official Chainer links start from the raw u (warmup_iters=0)
        self.iterate(weight, warmup_iters)
        self.fresh: tuple | None = None  # grouped mode: this forward's (u, v) per reshape, set by GroupedPowerIteration

    def _pairs(self, weight: torch.Tensor):
        yield weight_matrix(weight, self.dim), "_u", "_v"
        if self.bidirectional and weight.dim() > 2:  # BSSN's other reshape: (in, out*k*k)
            yield weight_matrix(weight, 1 - self.dim), "_u_t", "_v_t"

    @torch.no_grad()
    def iterate(self, weight: torch.Tensor, n: int) -> None:
        """n power iterations on `weight`, updating u and v in place."""
        dt = compute_dtype(weight)
        with torch.autocast(weight.device.type, enabled=False):
            for mat, u_name, v_name in self._pairs(weight):
                mat = mat.to(dt)
                u, v = getattr(self, u_name), getattr(self, v_name)
                for _ in range(n):
                    # in place, so the buffers stay the same tensors (DDP and checkpoints see them)
                    v.copy_(F.normalize(mat.t() @ u.to(dt), dim=0, eps=self.eps))
                    u.copy_(F.normalize(mat @ v.to(dt), dim=0, eps=self.eps))

    def sigma(self, weight: torch.Tensor) -> torch.Tensor:
        """The current estimate u^T W v (averaged over both reshapes for BSSN), in SN's compute dtype, u and v frozen."""
        dt = compute_dtype(weight)
        with torch.autocast(weight.device.type, enabled=False):
            sigmas = [getattr(self, u_name).to(dt, copy=True) @ (mat.to(dt) @ getattr(self, v_name).to(dt, copy=True))
                      for mat, u_name, v_name in self._pairs(weight)]
        return sigmas[0] if len(sigmas) == 1 else sum(sigmas) / len(sigmas)

    def _train_sigma(self, weight: torch.Tensor) -> torch.Tensor:
        """power_iters iterations, then sigma = u^T (W v) with the last W v reused: one matrix-vector product per
        iteration and reshape beyond the iteration itself, no clones (u and v are fresh tensors the graph may
        keep; the buffers take copies). Gradients flow through W v with u, v constants, as in the paper."""
        sigmas, dt = [], compute_dtype(weight)
        with torch.autocast(weight.device.type, enabled=False):
            for mat, u_name, v_name in self._pairs(weight):
                mat = mat.to(dt)
                u_buf, v_buf = getattr(self, u_name), getattr(self, v_name)
                u = u_buf.to(dt)
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

    def _grouped_sigma(self, weight: torch.Tensor) -> torch.Tensor:
        """sigma = u^T (W v) from the u, v the grouped iteration just computed (constants; gradient u v^T)."""
        fresh, self.fresh = self.fresh, None
        sigmas, dt = [], compute_dtype(weight)
        with torch.autocast(weight.device.type, enabled=False):
            for (mat, _, _), (u, v, _) in zip(self._pairs(weight), fresh):
                sigmas.append(torch.dot(u, mat.to(dt) @ v))
        return sigmas[0] if len(sigmas) == 1 else sum(sigmas) / len(sigmas)

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        dt = compute_dtype(weight)
        if self.training and self.fresh is not None and len(self.fresh) == 1:
            (u, v, sigma), self.fresh = self.fresh[0], None
            with torch.autocast(weight.device.type, enabled=False):
                w = SpectralDivide.apply(weight.to(dt), sigma, u, v, self.dim, self.scale)
            return w if w.dtype == weight.dtype else w.to(weight.dtype)
        if self.training:
            sigma = self._grouped_sigma(weight) if self.fresh is not None else self._train_sigma(weight)
        else:
            sigma = self.sigma(weight)
        w = weight.to(dt) / sigma
        if self.scale != 1.0:
            w = self.scale * w
        return w if w.dtype == weight.dtype else w.to(weight.dtype)


def spectral_norm(module: nn.Module, name: str = "weight", **kwargs) -> nn.Module:
    """Register SpectralNorm on module.<name> (kwargs go to SpectralNorm)."""
    kwargs.setdefault("dim", 1 if isinstance(module, nn.ConvTranspose2d) else 0)  # output channels first
    parametrize.register_parametrization(module, name, SpectralNorm(getattr(module, name), **kwargs))
    return module


class SpectralDivide(torch.autograd.Function):
    """scale * W / sigma with sigma = u^T W v (u, v constants) known from the grouped iteration: forward is one
    division; backward is the paper's gradient (eq. 10), (G - <G, W_bar> u v^T) * scale / sigma with W_bar = W / sigma,
    without the matrix-vector product, dot and division backward of the autograd path (the same values)."""

    @staticmethod
    def forward(ctx, weight, sigma, u, v, dim: int, scale: float):
        w_bar = weight / sigma
        ctx.save_for_backward(w_bar, sigma, u, v)
        ctx.dim, ctx.scale = dim, scale
        return w_bar * scale if scale != 1.0 else w_bar

    @staticmethod
    def backward(ctx, grad):
        w_bar, sigma, u, v = ctx.saved_tensors
        outer = torch.outer(u, v)  # (rows, cols) of the reshaped matrix: back to the weight's layout
        if ctx.dim:
            shape = list(w_bar.shape)
            shape[0], shape[ctx.dim] = shape[ctx.dim], shape[0]
            outer = outer.reshape(shape).transpose(0, ctx.dim)
        else:
            outer = outer.reshape(w_bar.shape)
        inner = torch.sum(grad * w_bar)
        scale = ctx.scale / sigma
        return (grad - inner * outer) * scale, None, None, None, None, None


class GroupedPowerIteration:
    """Before each training-mode forward of `model`, the power iterations of all its SpectralNorm layers at once:
    per layer two matrix-vector products, and for all layers together one foreach kernel per norm, clamp, division
    and copy. Each layer's forward then divides its weight by the sigma found here (SpectralDivide: its gradient
    written out), or for BSSN's two reshapes computes sigma from the fresh (u, v) (SpectralNorm._grouped_sigma)."""

    def __init__(self, model: nn.Module):
        self.layers = []  # (the parametrized module, its SpectralNorm)
        for module in model.modules():
            sn = find_spectral_norm(module)
            if sn is not None:
                self.layers.append((module, sn))
        self.handle = model.register_forward_pre_hook(self._before_forward) if self.layers else None

    def remove(self) -> None:
        if self.handle is not None:
            self.handle.remove()
        for _, sn in self.layers:
            sn.fresh = None

    def _normalize(self, vectors: list[torch.Tensor], eps: float) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """The vectors over their (clamped) norms, and those norms."""
        norms = torch._foreach_norm(vectors)
        torch._foreach_clamp_min_(norms, eps)
        return torch._foreach_div(vectors, norms), norms

    @torch.no_grad()
    def _before_forward(self, model: nn.Module, _inputs) -> None:
        if not model.training:
            return
        with torch.autocast(self.layers[0][1]._u.device.type, enabled=False):
            pairs = [(sn, mat.to(compute_dtype(mat)), u_name, v_name) for module, sn in self.layers
                     for mat, u_name, v_name in sn._pairs(module.parametrizations.weight.original)]
            eps = min(sn.eps for sn, *_ in pairs)
            us = [getattr(sn, u_name).to(mat.dtype) for sn, mat, u_name, _ in pairs]
            iters = max(sn.power_iters for sn, *_ in pairs)
            for _ in range(iters):
                vs, _ = self._normalize([mat.t() @ u for (_, mat, _, _), u in zip(pairs, us)], eps)
                # sigma = u^T W v = ||W v|| for u = W v / ||W v||
                us, sigmas = self._normalize([mat @ v for (_, mat, _, _), v in zip(pairs, vs)], eps)
            torch._foreach_copy_([getattr(sn, u_name) for sn, _, u_name, _ in pairs], us)
            torch._foreach_copy_([getattr(sn, v_name) for sn, _, _, v_name in pairs], vs)
        fresh: dict[int, list] = {}
        for (sn, _, _, _), u, v, sigma in zip(pairs, us, vs, sigmas):
            fresh.setdefault(id(sn), []).append((u, v, sigma))
        for _, sn in self.layers:
            sn.fresh = tuple(fresh[id(sn)])


def group_power_iterations(model: nn.Module) -> GroupedPowerIteration:
    """Run the power iterations of model's SN layers grouped, before each training forward (speed.grouped_sn)."""
    return GroupedPowerIteration(model)


def find_spectral_norm(module: nn.Module, name: str = "weight") -> SpectralNorm | None:
    """The SpectralNorm parametrization on module.<name>, if there is one."""
    if parametrize.is_parametrized(module, name):
        for p in getattr(module.parametrizations, name):
            if isinstance(p, SpectralNorm):
                return p
    return None
