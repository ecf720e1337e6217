"""Speed options (the `speed:` config section), each off or on: applied to G and D once they are built.

- bf16: G's and D's forwards run under bf16 autocast and return fp32; SN's power iteration and sigma
  stay fp32 (sngan.gan.norms.spectral disables autocast there), losses are computed in fp32 from fp32 logits.
  auto: on where the device computes bf16 natively (a CUDA GPU with bf16; a CPU whose oneDNN has bf16 kernels,
  AVX512-BF16 or AMX), off elsewhere, where emulated bf16 would be slower than fp32.
- compile: torch.compile each model in place (nn.Module.compile), so state_dict keys, TB tags and
  checkpoints keep their names. The first steps pay the compile time (minutes on a CPU). true uses
  torch's default backend (inductor); a string names another (aot_eager: traced, not code-generated).
  compile_mode picks inductor's mode: reduce-overhead (CUDA graphs), max-autotune, or null (default).
- channels_last: NHWC weights and image inputs (faster convolutions on tensor-core GPUs).
- tf32: TF32 matmuls and convolutions on Ampere+ GPUs (on by default, as PyTorch leaves cuDNN); only
  touched on CUDA. cudnn_benchmark: cuDNN picks the fastest convolution algorithm per shape (CUDA).
- fused_adam: Adam's update as one fused kernel per device (auto: on CUDA; true: on the CPU too), which also lets
  the non-finite check skip a bad step on the device without a host sync (train.finite).
- sync_bn: under torchrun, G's (and with norm=bn D's) batch norms use the statistics of the global batch (as one process
  would) instead of each rank's shard. torch's SyncBatchNorm is GPU-only; on the CPU (gloo) an
  all-reduce of the per-channel sums does the same.
- threads: torch.set_num_threads for CPU runs (null: torch's default).
- grouped_sn: SN's power iterations of all of a model's layers as one grouped update before each training forward
  (gan/norms/grouped.py); auto: on CUDA, where launches dominate small steps.
- data_on_device (read by the trainer): small datasets sit on the device as uint8 and batches are
  gathered and flipped there, no DataLoader workers.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..gan.norms.grouped import group_spectral_norms
from .sync_bn import convert_sync_bn


@dataclass(frozen=True)
class SpeedOptions:
    """speed.* (conf/speed/default.yaml documents each)."""

    bf16: bool | str             # true, false, or auto: on where the device has native bf16
    compile: bool | str          # true: torch's default backend; a string names one (aot_eager, ...)
    compile_mode: str | None     # reduce-overhead (CUDA graphs), max-autotune, or null
    channels_last: bool
    tf32: bool
    cudnn_benchmark: bool
    fused_adam: str | bool       # auto: on CUDA; true: wherever torch has it (the CPU too); false
    sync_bn: bool
    data_on_device: bool
    threads: int | None
    grouped_sn: str | bool       # auto: on CUDA; true; false (see gan/norms/spectral.py)

    @classmethod
    def parse(cls, node) -> "SpeedOptions":
        from ..errors import ConfigError
        from ..options import parse

        o = parse(cls, node, "speed")
        if o.compile_mode not in (None, "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"):
            raise ConfigError(f"unknown speed.compile_mode '{o.compile_mode}': choose reduce-overhead, max-autotune, "
                              f"max-autotune-no-cudagraphs or null")
        if o.threads is not None and o.threads < 1:
            raise ConfigError(f"speed.threads must be >= 1 or null, got {o.threads}")
        for key in ("bf16", "grouped_sn", "fused_adam"):
            if str(getattr(o, key)).lower() not in ("auto", "true", "false"):
                raise ConfigError(f"speed.{key} must be auto, true or false, got {getattr(o, key)!r}")
        return o

    @property
    def mode(self) -> str | None:
        return None if self.compile_mode in (None, "default") else self.compile_mode

    @property
    def cuda_graphs(self) -> bool:
        """torch.compile with CUDA graphs: outputs are overwritten by the next replay."""
        return bool(self.compile) and self.mode == "reduce-overhead"

    def bf16_on(self, device_type: str) -> bool:
        return _switch(self.bf16, native_bf16(device_type))

    def fused_adam_on(self, device_type: str) -> bool:
        return _switch(self.fused_adam, device_type == "cuda")

    def grouped_sn_on(self, device_type: str) -> bool:
        return _switch(self.grouped_sn, device_type == "cuda")


def _switch(value, when_auto: bool) -> bool:
    """An auto/true/false option: on when true, or when auto and `when_auto` holds for this device."""
    value = str(value).lower()
    return value == "true" or (value == "auto" and when_auto)


def native_bf16(device_type: str) -> bool:
    """Whether this device has bf16 arithmetic in hardware (so bf16 autocast is a speed-up, not an emulation)."""
    if device_type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False)
    if device_type == "cpu":
        try:  # oneDNN's own test: AVX512-BF16 or AMX on x86, bf16 extensions on Arm
            return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        except (AttributeError, RuntimeError):
            return False
    return False


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


class FastPath(nn.Module):
    """The module's training forward with the speed options: NHWC image input (channels_last) and bf16 autocast
    with fp32 outputs (losses and BN statistics downstream). The module itself stays the plain fp32 eager model
    that metrics, samples and checkpoints use."""

    def __init__(self, module: nn.Module, bf16: bool, channels_last_input: bool):
        super().__init__()
        self.module, self.bf16, self.channels_last_input = module, bf16, channels_last_input

    def forward(self, x, *args, **kwargs):
        if self.channels_last_input and torch.is_tensor(x) and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        if not self.bf16:
            return self.module(x, *args, **kwargs)
        device_type = next(self.module.parameters()).device.type
        with torch.autocast(device_type, dtype=torch.bfloat16):
            return _fp32_out(self.module(x, *args, **kwargs))


def fast_path(module: nn.Module, options: "SpeedOptions", image_input: bool, images: bool) -> nn.Module:
    """What trains `module` under the speed options: the module itself when none applies (the CPU default), else a
    FastPath around it, compiled when speed.compile (torch.compile leaves the module itself eager)."""
    bf16 = options.bf16_on(next(module.parameters()).device.type)
    channels_last = options.channels_last and images
    if channels_last:
        module.to(memory_format=torch.channels_last)  # NHWC weights: the module and its fast path share them
    run = module
    if bf16 or (channels_last and image_input):
        run = FastPath(module, bf16, channels_last and image_input)
    if options.compile:  # true: torch's default (inductor); a string names another backend, e.g. aot_eager
        kwargs = {} if options.compile is True else {"backend": str(options.compile)}
        if options.mode:
            kwargs["mode"] = options.mode
        run = torch.compile(run, **kwargs)
    return run


def apply_speed(options: SpeedOptions, G: nn.Module, D: nn.Module, images: bool = True,
                world: int = 1) -> tuple[nn.Module, nn.Module]:
    """(G's, D's training paths) under the speed options; G and D stay the plain models (batch norms synchronized
    under torchrun with sync_bn, SN's power iterations grouped where grouped_sn is on)."""
    device_type = next(G.parameters()).device.type
    set_cuda_flags(options, device_type)
    if options.sync_bn and world > 1:
        convert_sync_bn(G, device_type), convert_sync_bn(D, device_type)  # D has BN with norm=bn
    if options.grouped_sn_on(device_type) and not options.compile:  # compiled graphs fuse the per-layer ops anyway
        group_spectral_norms(G), group_spectral_norms(D)
    return fast_path(G, options, False, images), fast_path(D, options, True, images)
