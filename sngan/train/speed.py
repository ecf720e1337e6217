"""Speed options (the `speed:` config section), each off or on: applied to G and D once they are built.

- bf16: G's and D's forwards run under bf16 autocast and return fp32; SN's power iteration and sigma
  stay fp32 (sngan.spectral disables autocast there), losses are computed in fp32 from fp32 logits.
- compile: torch.compile each model in place (nn.Module.compile), so state_dict keys, TB tags and
  checkpoints keep their names. The first steps pay the compile time (minutes on a CPU). true uses
  torch's default backend (inductor); a string names another (aot_eager: traced, not code-generated).
  compile_mode picks inductor's mode: reduce-overhead (CUDA graphs), max-autotune, or null (default).
- channels_last: NHWC weights and image inputs (faster convolutions on tensor-core GPUs).
- tf32: TF32 matmuls and convolutions on Ampere+ GPUs (on by default, as PyTorch leaves cuDNN); only
  touched on CUDA. cudnn_benchmark: cuDNN picks the fastest convolution algorithm per shape (CUDA).
- fused_adam: Adam's update as one fused kernel per device (CUDA), which also lets the non-finite check
  skip a bad step on the device without a host sync (train.finite).
- sync_bn: under torchrun, G's (and with norm=bn D's) batch norms use the statistics of the global batch (as one process
  would) instead of each rank's shard. torch's SyncBatchNorm is GPU-only; on the CPU (gloo) an
  all-reduce of the per-channel sums does the same.
- threads: torch.set_num_threads for CPU runs (null: torch's default).
- data_on_device (read by the trainer): small datasets sit on the device as uint8 and batches are
  gathered and flipped there, no DataLoader workers.
"""
from __future__ import annotations

import types
from dataclasses import dataclass

import torch
from torch import nn

from .sync_bn import convert_sync_bn


@dataclass(frozen=True)
class SpeedOptions:
    bf16: bool = False
    compile: bool | str = False       # true: torch's default backend; a string names one (aot_eager, ...)
    compile_mode: str | None = None   # reduce-overhead (CUDA graphs), max-autotune, or None
    channels_last: bool = False
    tf32: bool = True
    cudnn_benchmark: bool = True
    fused_adam: bool = True
    sync_bn: bool = False
    data_on_device: bool = True
    threads: int | None = None

    @classmethod
    def from_config(cls, speed) -> "SpeedOptions":
        """cfg.speed (None or missing keys: the defaults)."""
        speed = speed or {}
        get = lambda key, default: default if speed.get(key) is None else speed.get(key)  # noqa: E731
        backend = get("compile", False)
        mode = get("compile_mode", None)
        return cls(bool(get("bf16", False)), backend if isinstance(backend, str) else bool(backend),
                   None if mode in (None, "default") else str(mode), bool(get("channels_last", False)),
                   bool(get("tf32", True)), bool(get("cudnn_benchmark", True)), bool(get("fused_adam", True)),
                   bool(get("sync_bn", False)), bool(get("data_on_device", True)), int(get("threads", 0)) or None)


def set_threads(threads: int | None) -> None:
    if threads:
        torch.set_num_threads(int(threads))


def set_tf32(enabled: bool) -> None:
    torch.backends.cuda.matmul.allow_tf32 = enabled
    torch.backends.cudnn.allow_tf32 = enabled


def set_cuda_flags(options: "SpeedOptions", device_type: str) -> None:
    """TF32 and cuDNN autotuning for a CUDA run; a CPU run leaves torch's flags alone."""
    if device_type == "cuda":
        set_tf32(options.tf32)
        torch.backends.cudnn.benchmark = options.cudnn_benchmark


def _fp32_out(out):
    return out.float() if torch.is_tensor(out) and out.is_floating_point() else out


def _bf16_forward(self, *args, **kwargs):
    """The class's forward under bf16 autocast, with fp32 outputs (losses and BN stats downstream)."""
    device_type = next(self.parameters()).device.type
    with torch.autocast(device_type, dtype=torch.bfloat16):
        return _fp32_out(type(self).forward(self, *args, **kwargs))


def _channels_last_forward(inner):
    def forward(self, x, *args, **kwargs):
        if torch.is_tensor(x) and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return inner(self, x, *args, **kwargs)
    return forward


def use_bf16(module: nn.Module) -> nn.Module:
    # a bound method on the instance: deepcopy (EMA) rebinds it to the copy
    module.forward = types.MethodType(_bf16_forward, module)
    return module


def use_channels_last(module: nn.Module, image_input: bool) -> nn.Module:
    module.to(memory_format=torch.channels_last)
    if image_input:
        current = module.forward.__func__ if isinstance(module.forward, types.MethodType) else type(module).forward
        module.forward = types.MethodType(_channels_last_forward(current), module)
    return module


def apply_speed(options: SpeedOptions, G: nn.Module, D: nn.Module, images: bool = True,
                world: int = 1) -> tuple[nn.Module, nn.Module]:
    """G and D with the speed options applied (in place; the same modules come back)."""
    device_type = next(G.parameters()).device.type
    set_cuda_flags(options, device_type)
    if options.sync_bn and world > 1:
        G, D = convert_sync_bn(G, device_type), convert_sync_bn(D, device_type)  # D has BN with norm=bn
    if options.bf16:
        use_bf16(G), use_bf16(D)
    if options.channels_last and images:
        use_channels_last(G, image_input=False), use_channels_last(D, image_input=True)
    backend = options.compile
    if backend:  # true: torch's default (inductor); a string names another backend, e.g. aot_eager
        kwargs = {} if backend is True else {"backend": str(backend)}
        if options.compile_mode:
            kwargs["mode"] = options.compile_mode
        G.compile(**kwargs), D.compile(**kwargs)
    return G, D
