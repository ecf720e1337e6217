"""Measurements in full fp32, whatever the training loop runs in: TF32 off for matmuls and convolutions while a
metric computes, the generator's plain fp32 module (never its bf16 or compiled training path)."""
from __future__ import annotations

import contextlib

import torch

PRECISION = "fp32"  # features in full fp32: TF32 is off inside the extractor whatever the training loop set


@contextlib.contextmanager
def on_device(device: torch.device):
    """torch-fidelity moves things with .cuda(): make that mean this run's GPU; and compute the features in
    fp32 (TF32 off for matmuls and convolutions, restored after), so numbers do not depend on speed.tf32."""
    if device.type != "cuda":
        yield
        return
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        with torch.cuda.device(device):
            yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved
