"""SN for all of a model's layers at once (speed.grouped_sn, the CUDA default): before each training forward, one
custom autograd function computes every layer's W / sigma(W) in a few batched kernels, instead of a handful of small
kernels per layer, with the values and gradient of the per-layer path (spectral.py).

How: every (layer, reshape) matrix is copied into one zero-padded (E, rows, cols) buffer; one power iteration is two
batched matrix-vector products and two row normalizations; sigma per entry is the norm of W v. Forward divides the
weights by their sigmas (one fused kernel). Backward is the paper's gradient (u, v constants; eq. 10 of arXiv
1802.05957): dL/dW = s / sigma * (G - <G, W> / sigma * mean_k u_k v_k^T), with G = dL/dW_bar and s BSSN's scale,
computed on the padded buffers: each G copied in once, all inner products and outer products batched.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .spectral import SpectralNorm, compute_dtype, find_spectral_norm, weight_matrix


@dataclass
class _Plan:
    """The padded layout of one model's SN matrices on one device and dtype."""

    layer_of: list[int]          # entry -> its layer
    dim_of: list[int]            # entry -> the weight axis that is its rows
    shape_of: list[tuple]        # entry -> (rows, cols)
    first: list[int]             # layer -> its first entry
    second: list[tuple]          # (layer, entry) of BSSN's transposed reshapes
    weights: torch.Tensor        # (E, R, C) zero-padded matrices
    grads: torch.Tensor          # (E, R, C) zero-padded gradients (first entries only)
    u: torch.Tensor              # (E, R)
    key: tuple                   # (device, dtype, weight shapes): rebuilt when these change

    def slices(self, buffer: torch.Tensor, entries) -> list[torch.Tensor]:
        return [buffer[e, :self.shape_of[e][0], :self.shape_of[e][1]] for e in entries]


def _as_weight(matrix: torch.Tensor, dim: int, shape: torch.Size) -> torch.Tensor:
    """The inverse of weight_matrix(weight, dim): a (rows, cols) view back in the weight's layout."""
    if not dim:
        return matrix.view(shape)
    swapped = list(shape)
    swapped[0], swapped[dim] = swapped[dim], swapped[0]
    return matrix.view(swapped).transpose(0, dim)


class GroupedSpectralNorm:
    """Attached to a model: its SN layers are normalized together before each training-mode forward; each layer's
    parametrization then takes its normalized weight from here (SpectralNorm.forward)."""

    def __init__(self, model: nn.Module):
        self.layers = [(m, sn) for m in model.modules() if (sn := find_spectral_norm(m)) is not None]
        for _, sn in self.layers:
            sn.group = self
        self.handle = model.register_forward_pre_hook(self._before_forward) if self.layers else None
        self.ready: dict[int, torch.Tensor] = {}  # id(SpectralNorm) -> its normalized weight for this forward
        self.plan: _Plan | None = None

    def remove(self) -> None:
        if self.handle is not None:
            self.handle.remove()
        for _, sn in self.layers:
            sn.group = None
        self.ready = {}

    def take(self, sn: SpectralNorm) -> torch.Tensor | None:
        return self.ready.pop(id(sn), None)

    def _plan(self, weights: list[torch.Tensor]) -> _Plan:
        key = (weights[0].device, compute_dtype(weights[0]), tuple(tuple(w.shape) for w in weights))
        if self.plan is not None and self.plan.key == key:
            return self.plan
        layer_of, dim_of, shape_of, first, second = [], [], [], [], []
        for i, ((_, sn), w) in enumerate(zip(self.layers, weights)):
            first.append(len(layer_of))
            for k, (d, shape) in enumerate(zip(sn.dims(w), sn.shapes(w))):
                if k:
                    second.append((i, len(layer_of)))
                layer_of.append(i), dim_of.append(d), shape_of.append(shape)
        rows, cols = max(s[0] for s in shape_of), max(s[1] for s in shape_of)
        zeros = lambda *size: torch.zeros(*size, device=key[0], dtype=key[1])
        self.plan = _Plan(layer_of, dim_of, shape_of, first, second, zeros(len(layer_of), rows, cols),
                          zeros(len(layer_of), rows, cols), zeros(len(layer_of), rows), key)
        return self.plan

    def _before_forward(self, model: nn.Module, _inputs) -> None:
        if not model.training:
            return
        weights = [m.parametrizations.weight.original for m, _ in self.layers]
        with torch.autocast(weights[0].device.type, enabled=False):
            normalized = _GroupedNormalize.apply(self, self._plan(weights), *weights)
        self.ready = {id(sn): w for (_, sn), w in zip(self.layers, normalized)}


class _GroupedNormalize(torch.autograd.Function):
    """(group, plan, *weights) -> every layer's scale * W / sigma(W), updating u and v; see the module doc."""

    @staticmethod
    def forward(ctx, group: GroupedSpectralNorm, plan: _Plan, *weights):
        sns = [sn for _, sn in group.layers]
        entries = range(len(plan.layer_of))
        vectors = [v for sn, w in zip(sns, weights) for v in sn.vectors()[:len(sn.dims(w))]]
        dt, eps = plan.weights.dtype, sns[0].eps
        torch._foreach_copy_(  # the matrices and the current u's into the padded buffers, in one kernel
            plan.slices(plan.weights, entries) + [plan.u[e, :plan.shape_of[e][0]] for e in entries],
            [weight_matrix(weights[plan.layer_of[e]], plan.dim_of[e]) for e in entries] + [u for u, _ in vectors])
        u = plan.u
        for _ in range(max(sn.power_iters for sn in sns)):
            v = torch.bmm(plan.weights.transpose(1, 2), u.unsqueeze(2)).squeeze(2)
            v = v / torch.linalg.vector_norm(v, dim=1, keepdim=True).clamp_min(eps)
            wv = torch.bmm(plan.weights, v.unsqueeze(2)).squeeze(2)
            sigma = torch.linalg.vector_norm(wv, dim=1, keepdim=True).clamp_min(eps)  # u^T W v for u = W v / |W v|
            u = wv / sigma
        torch._foreach_copy_([u_buf for u_buf, _ in vectors] + [v_buf for _, v_buf in vectors],
                             [u[e, :plan.shape_of[e][0]] for e in entries] + [v[e, :plan.shape_of[e][1]] for e in entries])
        sigma = sigma.squeeze(1)
        if plan.second:  # BSSN: a layer's sigma is the mean over its two reshapes
            sigma = sigma.clone()
            for layer, e in plan.second:
                sigma[plan.first[layer]] = (sigma[plan.first[layer]] + sigma[e]) / 2
        scales = [sn.scale for sn in sns]
        per_layer = sigma[plan.first] if plan.second else sigma
        divisors = per_layer if all(s == 1.0 for s in scales) else per_layer / per_layer.new_tensor(scales)
        ctx.plan, ctx.shapes = plan, [w.shape for w in weights]
        if plan.second:  # 1 where a layer has one reshape, 0 where it has two
            ctx.single = per_layer.new_tensor([0.0 if i in {layer for layer, _ in plan.second} else 1.0
                                               for i in range(len(weights))])
        ctx.save_for_backward(u, v, per_layer, divisors)
        return tuple(torch._foreach_div([w.to(dt) for w in weights], list(divisors.unsqueeze(1).unbind(0))))

    @staticmethod
    def backward(ctx, *grads):
        plan, shapes = ctx.plan, ctx.shapes
        u, v, sigma, divisors = ctx.saved_tensors
        grads = [g if g is not None else u.new_zeros(shape) for g, shape in zip(grads, shapes)]
        first = plan.first
        torch._foreach_copy_(plan.slices(plan.grads, first),
                             [weight_matrix(g, plan.dim_of[e]) for g, e in zip(grads, first)])
        inner = (plan.grads * plan.weights).sum(dim=(1, 2))                      # <G, W>, at each layer's first entry
        if plan.second:
            inner = inner[first] * (ctx.single + (1 - ctx.single) / 2)  # BSSN: averaged over its 2 reshapes
        coef = inner / (sigma * divisors)                                          # s <G, W> / (sigma^2 n_reshapes)
        correction = u.unsqueeze(2) * v.unsqueeze(1) * (coef[plan.layer_of] if plan.second else coef).view(-1, 1, 1)
        out = torch._foreach_div(grads, list(divisors.unsqueeze(1).unbind(0)))     # s / sigma * G
        torch._foreach_sub_(out, [_as_weight(part, plan.dim_of[e], shapes[i])
                                  for i, (part, e) in enumerate(zip(plan.slices(correction, first), first))])
        if plan.second:  # BSSN's transposed reshapes: their u v^T back in the weight's layout
            torch._foreach_sub_([out[layer] for layer, _ in plan.second],
                                [_as_weight(part, plan.dim_of[e], shapes[layer]) for part, (layer, e)
                                 in zip(plan.slices(correction, [e for _, e in plan.second]), plan.second)])
        return (None, None, *out)


def group_spectral_norms(model: nn.Module) -> GroupedSpectralNorm:
    """Normalize model's SN layers together before each training forward (speed.grouped_sn)."""
    return GroupedSpectralNorm(model)
