"""The SN-GAN paper's ResNets (its Tables 4-6) as the official code builds them, optionally class-conditional.

Official code: pfnet-research/sngan_projection @ e84b1a5, gen_models/resnet_32.py, resnet_64.py, resnet.py (128 px)
with gen_models/resblocks.py; dis_models/snresnet_32.py, snresnet_64.py, snresnet.py (128 px) with
dis_models/resblocks.py. The official code has no 48 px (STL-10) model: at 48 px the widths are the paper's
Table 5, built from the same blocks, with the 64/128 px D's biased final linear.

- G block (gen_models/resblocks.py Block, lines 17-58): BN-ReLU-upsample(nearest)-conv3-BN-ReLU-conv3, hidden width
  = output width, shortcut upsample-conv1x1; batch norms use Chainer's eps 2e-5 (arch.bn_eps).
- D block (dis_models/resblocks.py Block, lines 12-49): ReLU-conv3-ReLU-conv3(-avgpool) with the hidden width
  = the *input* width (c1 in->in, c2 in->out), shortcut conv1x1-then-avgpool where the width changes or it
  downsamples; the first block is OptimizedBlock (lines 52-75): conv3 (in->out)-ReLU-conv3-avgpool, shortcut
  avgpool-then-conv1x1.
- D head: ReLU, global *sum* pooling, linear to one logit: without bias at 32 px (snresnet_32.py line 17,
  nobias=True), with bias at 64 and 128 px (snresnet_64.py line 19, snresnet.py line 20).

Conditional models use conditional batch norm in G and the projection discriminator (Miyato &
Koyama 2018): D(x, y) = psi(phi(x)) + <embed(y), phi(x)>.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

# resolution -> (G bottom size, G widths from the dense layer on, D (width, downsample) per block, D's final bias)
PAPER_PLANS = {
    32: (4, [256, 256, 256, 256], [(128, True), (128, True), (128, False), (128, False)], False),  # resnet_32.py
    48: (6, [512, 256, 128, 64], [(64, True), (128, True), (256, True), (512, True), (1024, False)], True),  # Table 5
    64: (4, [1024, 512, 256, 128, 64], [(64, True), (128, True), (256, True), (512, True), (1024, True)], True),
    128: (4, [1024, 1024, 512, 256, 128, 64],
          [(64, True), (128, True), (256, True), (512, True), (1024, True), (1024, False)], True),  # resnet.py
}


def resnet_plan(resolution: int, g_ch: int | None, d_ch: int | None):
    """(bottom, G widths, D blocks, D's final bias) for a resolution: the official code's where it has one (the
    paper's Table 5 at 48 px), the 32 px pattern otherwise."""
    if resolution in PAPER_PLANS:
        bottom, g_widths, d_blocks, fc_bias = PAPER_PLANS[resolution]
    else:
        n_up = int(math.log2(resolution // 4))
        if 4 * 2 ** n_up != resolution:
            raise ValueError(f"resnet needs a resolution of 4 * 2**k or 48; got {resolution}")
        bottom, g_widths, fc_bias = 4, [256] * (n_up + 1), False
        d_blocks = [(128, True)] * max(1, n_up - 1) + [(128, False)] * 2
    if g_ch:  # scale the paper's widths so the first one becomes g_ch
        g_widths = [max(1, w * g_ch // g_widths[0]) for w in g_widths]
    if d_ch:
        d_blocks = [(max(1, w * d_ch // d_blocks[0][0]), down) for w, down in d_blocks]
    return bottom, g_widths, d_blocks, fc_bias


class ConditionalBatchNorm2d(nn.Module):
    """Batch norm whose gain and bias are looked up per class (plain BN when num_classes is 0)."""

    def __init__(self, channels: int, num_classes: int, eps: float):
        super().__init__()
        self.num_classes = num_classes
        self.bn = nn.BatchNorm2d(channels, eps=eps, affine=num_classes == 0)
        if num_classes:
            self.gain = nn.Embedding(num_classes, channels)
            self.bias = nn.Embedding(num_classes, channels)
            nn.init.ones_(self.gain.weight)
            nn.init.zeros_(self.bias.weight)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        out = self.bn(x)
        if self.num_classes:
            out = out * self.gain(y)[:, :, None, None] + self.bias(y)[:, :, None, None]
        return out


class GBlock(nn.Module):
    """BN-ReLU-up-conv3-BN-ReLU-conv3 with an up-sampled 1x1 shortcut."""

    def __init__(self, c_in: int, c_out: int, num_classes: int, bn_eps: float):
        super().__init__()
        self.bn1 = ConditionalBatchNorm2d(c_in, num_classes, bn_eps)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, 1, 1)
        self.bn2 = ConditionalBatchNorm2d(c_out, num_classes, bn_eps)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1)
        self.shortcut = nn.Conv2d(c_in, c_out, 1)

    def forward(self, x, y=None):
        h = F.interpolate(F.relu(self.bn1(x, y)), scale_factor=2)
        h = self.conv2(F.relu(self.bn2(self.conv1(h), y)))
        return h + self.shortcut(F.interpolate(x, scale_factor=2))


class DBlock(nn.Module):
    """ReLU-conv3-ReLU-conv3 (-avgpool), with a 1x1 shortcut; the first block (OptimizedBlock) skips the first
    ReLU. The hidden width is the input width (the first block's: the output width)."""

    def __init__(self, c_in: int, c_out: int, down: bool, first: bool = False, feature_norm=None):
        super().__init__()
        self.down, self.first = down, first
        hidden = c_out if first else c_in
        self.conv1 = nn.Conv2d(c_in, hidden, 3, 1, 1)
        self.conv2 = nn.Conv2d(hidden, c_out, 3, 1, 1)
        # norm=ln/bn baselines: a feature norm after each residual conv but the one reading the image
        self.norm1 = feature_norm(hidden) if feature_norm and not first else None
        self.norm2 = feature_norm(c_out) if feature_norm else None
        self.shortcut = nn.Conv2d(c_in, c_out, 1) if (down or c_in != c_out) else None

    def forward(self, x):
        h = x if self.first else F.relu(x)
        h = self.conv1(h)
        h = self.conv2(F.relu(self.norm1(h) if self.norm1 is not None else h))
        h = self.norm2(h) if self.norm2 is not None else h
        if self.down:
            h = F.avg_pool2d(h, 2)
        s = x
        if self.shortcut is not None:
            # the first block pools before its shortcut conv, the others after (as in the paper's code)
            s = self.shortcut(F.avg_pool2d(x, 2)) if (self.first and self.down) else self.shortcut(x)
            if self.down and not self.first:
                s = F.avg_pool2d(s, 2)
        return h + s


class ResNetGenerator(nn.Module):
    def __init__(self, z_dim: int, resolution: int, channels: int, g_ch: int | None, num_classes: int,
                 bn_eps: float):
        super().__init__()
        self.bottom, widths, _, _ = resnet_plan(resolution, g_ch, None)
        self.width0 = widths[0]
        self.dense = nn.Linear(z_dim, self.bottom * self.bottom * widths[0])
        self.blocks = nn.ModuleList(GBlock(a, b, num_classes, bn_eps) for a, b in zip(widths[:-1], widths[1:]))
        self.bn = nn.BatchNorm2d(widths[-1], eps=bn_eps)
        self.conv = nn.Conv2d(widths[-1], channels, 3, 1, 1)

    def forward(self, z, y=None):
        h = self.dense(z).view(-1, self.width0, self.bottom, self.bottom)
        for block in self.blocks:
            h = block(h, y)
        return torch.tanh(self.conv(F.relu(self.bn(h))))


class ResNetDiscriminator(nn.Module):
    def __init__(self, resolution: int, channels: int, d_ch: int | None, num_classes: int, feature_norm=None):
        super().__init__()
        _, _, plan, fc_bias = resnet_plan(resolution, None, d_ch)
        blocks, c_in = [], channels
        for i, (c, down) in enumerate(plan):
            blocks.append(DBlock(c_in, c, down, first=i == 0, feature_norm=feature_norm))
            c_in = c
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(c_in, 1, bias=fc_bias)
        self.embed = nn.Embedding(num_classes, c_in) if num_classes else None

    def forward(self, x, y=None):
        h = F.relu(self.blocks(x)).sum(dim=(2, 3))  # global sum pooling
        out = self.fc(h).squeeze(1)
        if self.embed is not None:
            out = out + (self.embed(y) * h).sum(1)
        return out
