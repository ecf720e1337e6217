"""The official code's weight init per architecture (arch.init=paper); arch.init=torch keeps PyTorch's.

- dcgan: N(0, 0.02) for every conv and linear weight of G and D, zero biases
  (pfnet-research/chainer-gan-lib, common/net.py: `w = chainer.initializers.Normal(wscale)`, wscale=0.02).
- resnet: Glorot-uniform with gain sqrt(2) in the residual convs, gain 1 in the 1x1 shortcuts, the linear
  layers, the projection embedding and G's last conv; zero biases (pfnet-research/sngan_projection,
  gen_models/resblocks.py and dis_models/resblocks.py: `GlorotUniform(math.sqrt(2))` and `initializer_sc =
  GlorotUniform()`; dis_models/snresnet_32.py: l5 and l_y `GlorotUniform()`; gen_models/resnet_32.py: l1 and
  c5 `GlorotUniform()`). Conditional BN's class gains and biases stay ones and zeros.
"""
from __future__ import annotations

import math

import torch
from torch import nn

INITS = ("paper", "torch")


def _zero_bias(layer: nn.Module) -> None:
    if getattr(layer, "bias", None) is not None:
        nn.init.zeros_(layer.bias)


@torch.no_grad()
def normal_002(net: nn.Module) -> None:
    for layer in net.modules():
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(layer.weight, 0.0, 0.02)
            _zero_bias(layer)


@torch.no_grad()
def glorot_resnet(net: nn.Module) -> None:
    from .resnet import DBlock, GBlock

    residual = {id(m) for block in net.modules() if isinstance(block, (GBlock, DBlock))
                for m in (block.conv1, block.conv2)}
    for layer in net.modules():
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(layer.weight, gain=math.sqrt(2) if id(layer) in residual else 1.0)
            _zero_bias(layer)
    projection = getattr(net, "embed", None)  # the projection D's class embedding
    if isinstance(projection, nn.Embedding):
        nn.init.xavier_uniform_(projection.weight)
