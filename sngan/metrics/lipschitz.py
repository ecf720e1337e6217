"""The true Lipschitz constant (spectral norm) of each conv layer as the linear operator it applies.

SN bounds the norm of the reshaped kernel, (out, in*k*k); the convolution itself, at the layer's
input size with its stride and padding, can have a norm above or below that. Here it is found by
power iteration on the operator, with conv2d and conv_transpose2d as the operator and its adjoint.
Input sizes are recorded once (conv_input_sizes), by one eager forward of an example input before training (and
before torch.compile, so no hook ever sits in a compiled graph). Each report starts every layer's iteration from a
vector of the named stream (seed, LIPSCHITZ, step, layer), so the logged value is a function of the weights and the
step alone: a resumed run logs what an uninterrupted one does. For linear layers the operator is the matrix, whose
norm is the exact sigma.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..data import streams
from ..gan.norms import effective_weight, weighted_layers
from ..gan.norms.spectral import exact_sigma

CONVS = (nn.Conv2d, nn.ConvTranspose2d)


@torch.no_grad()
def conv_input_sizes(net: nn.Module, *example) -> dict[str, tuple]:
    """{layer name: input size (C, H, W)} of each conv layer, by one forward of `example` in eval mode (SN does not
    iterate, batch norm does not update its statistics), with its hooks removed right after."""
    sizes = {}
    names = {module: name for name, module in net.named_modules()}

    def record(module, inputs, _output):
        sizes[names[module]] = tuple(inputs[0].shape[1:])

    handles = [layer.register_forward_hook(record) for layer in net.modules() if isinstance(layer, CONVS)]
    was_training = net.training
    net.eval()
    try:
        net(*example)
    finally:
        net.train(was_training)
        for handle in handles:
            handle.remove()
    return sizes


def conv_operator(layer: nn.Module, weight: torch.Tensor, input_shape):
    """(A, A^T) of the layer's convolution without bias, at input size input_shape = (C, H, W);
    None where the padding is not plain zeros (string padding or a non-zero padding_mode)."""
    if getattr(layer, "padding_mode", "zeros") != "zeros" or isinstance(layer.padding, str):
        return None
    s, p, d, g = layer.stride, layer.padding, layer.dilation, layer.groups
    if isinstance(layer, nn.ConvTranspose2d):
        op = layer.output_padding
        return (lambda x: F.conv_transpose2d(x, weight, None, s, p, op, g, d),
                lambda y: F.conv2d(y, weight, None, s, p, d, g))
    h, w = input_shape[1:]
    out_h, out_w = [(n + 2 * p[i] - d[i] * (weight.shape[2 + i] - 1) - 1) // s[i] + 1 for i, n in enumerate((h, w))]
    # the adjoint must map back onto the full input size: output_padding restores rows the stride dropped
    op = [n - ((o - 1) * s[i] - 2 * p[i] + d[i] * (weight.shape[2 + i] - 1) + 1)
          for i, (n, o) in enumerate(((h, out_h), (w, out_w)))]
    return (lambda x: F.conv2d(x, weight, None, s, p, d, g),
            lambda y: F.conv_transpose2d(y, weight, None, s, p, tuple(op), g, d))


@torch.no_grad()
def conv_operator_norm(layer: nn.Module, input_shape, iters: int, generator: torch.Generator,
                       dtype: torch.dtype = torch.float32):
    """(largest singular value of the layer's convolution at input_shape, the converged input vector);
    (None, None) where the operator is not supported. The iteration starts from a normal vector of `generator`."""
    weight = effective_weight(layer).detach().to(dtype)
    ops = conv_operator(layer, weight, input_shape)
    if ops is None:
        return None, None
    forward, adjoint = ops
    x = torch.randn(1, *input_shape, generator=generator).to(weight.device, dtype)
    x = x / x.norm()
    for _ in range(iters):
        x = adjoint(forward(x))
        x = x / x.norm().clamp_min(1e-30)
    return forward(x).norm().item(), x


def lipschitz_bounds(net: nn.Module, input_sizes: dict[str, tuple], iters: int, seed: int,
                     step: int) -> dict[str, float]:
    """Operator norm per conv layer whose input size is known, each iteration started from the named stream
    (seed, LIPSCHITZ, step, layer index), and exact sigma per linear layer, by layer name."""
    out = {}
    for index, (name, layer) in enumerate(weighted_layers(net).items()):
        if isinstance(layer, nn.Linear):
            out[name] = exact_sigma(effective_weight(layer))
        elif isinstance(layer, CONVS) and name in input_sizes:
            g = streams.generator(seed, streams.LIPSCHITZ, step, index)
            sigma, _ = conv_operator_norm(layer, input_sizes[name], iters, g)
            if sigma is not None:
                out[name] = sigma
    return out
