"""Speed options (sngan.train.speed): each on matches fp32 eager on the CPU within a stated tolerance."""
from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from conftest import SMALL, assert_same_training_state, compose_train, final_state, send_signal_at
from sngan.gan.norms.spectral import spectral_norm

# 2 G updates of a narrow DCGAN on digits, losses logged at each
TINY = SMALL + ["train.steps=2", "train.log_every=1", "metrics.every.sigma=2", "train.sample_every=2",
                "train.ckpt_every=2", "arch.g_ch=32", "arch.d_ch=16", "arch.init=paper"]


def _losses(tmp_path, name, *overrides) -> dict:
    from sngan.train import train

    last = train(compose_train(TINY + list(overrides), run_dir=tmp_path / name))
    return {k: v for k, v in last.items() if k.startswith("loss/")}


@pytest.fixture(scope="module")
def fp32_losses(tmp_path_factory):
    return _losses(tmp_path_factory.mktemp("fp32"), "run")


def test_power_iteration_stays_fp32_under_bf16_autocast():
    torch.manual_seed(0)
    plain = spectral_norm(nn.Linear(16, 8))
    mixed = copy.deepcopy(plain)
    x = torch.randn(4, 16)
    plain(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = mixed(x)
    assert out.dtype == torch.bfloat16  # autocast is really on for the layer's matmul
    sn_plain, sn_mixed = plain.parametrizations.weight[0], mixed.parametrizations.weight[0]
    assert sn_mixed._u.dtype == torch.float32
    # bitwise the fp32 iteration: a bf16 one would differ around the 3rd significant digit
    assert torch.equal(sn_mixed._u, sn_plain._u) and torch.equal(sn_mixed._v, sn_plain._v)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        sigma = sn_mixed.sigma(mixed.parametrizations.weight.original)
    assert sigma.dtype == torch.float32


def test_bf16_run_matches_fp32(tmp_path, fp32_losses):
    """bf16 keeps ~3 significant digits: losses within 2e-2 (measured ~1e-4 after 2 steps)."""
    bf16 = _losses(tmp_path, "bf16", "speed.bf16=true")
    assert bf16.keys() == fp32_losses.keys()
    for k in bf16:
        assert bf16[k] == pytest.approx(fp32_losses[k], abs=2e-2)
        assert bf16[k] != fp32_losses[k]  # the option did change the arithmetic


def _options(*overrides):
    from sngan.train.speed import SpeedOptions

    return SpeedOptions.parse(compose_train(list(overrides)).speed)


def test_bf16_fast_path_returns_fp32_and_leaves_the_model_plain():
    from sngan.train.speed import fast_path

    layer = nn.Linear(4, 3)
    run = fast_path(layer, _options("speed.bf16=true"), image_input=False, images=True)
    x = torch.randn(2, 4)
    with torch.no_grad():
        fast, plain = run(x), layer(x)
    assert fast.dtype == torch.float32 and layer.weight.dtype == torch.float32
    assert not torch.equal(fast, plain)  # the fast path ran in bf16 ...
    assert torch.equal(layer(x), plain)  # ... the model itself (metrics, samples, the EMA copy) stays fp32 eager
    assert fast_path(layer, _options(), image_input=False, images=True) is layer  # no option: the model itself


@pytest.mark.parametrize("native", [True, False])
def test_bf16_auto_follows_the_hardware(monkeypatch, native):
    """auto: bf16 where the device computes it natively, plain fp32 where it would be emulated."""
    from sngan.train import speed

    monkeypatch.setattr(speed, "native_bf16", lambda device_type: native)
    layer = nn.Linear(4, 3)
    run = speed.fast_path(layer, _options("speed.bf16=auto"), image_input=False, images=True)
    assert (run is not layer) == native
    assert _options("speed.bf16=auto").bf16_on("cpu") == native
    assert _options("speed.bf16=true").bf16_on("cpu") and not _options("speed.bf16=false").bf16_on("cpu")


def test_bf16_refuses_other_values():
    from sngan.errors import ConfigError

    with pytest.raises(ConfigError, match="speed.bf16 must be auto, true or false"):
        _options("speed.bf16=sometimes")


def test_resume_under_bf16_and_channels_last_is_bitwise(tmp_path, monkeypatch):
    """The speed options the Fashion-MNIST recipe turns on keep the resume promise on the CPU: stopped by a signal
    at step 2 and rerun, the run ends in the uninterrupted run's exact state."""
    import signal

    from sngan.errors import TrainingInterrupted
    from sngan.train import train

    fast = TINY + ["train.steps=4", "ema.enabled=true", "ema.start=0", "speed.bf16=true", "speed.channels_last=true"]
    train(compose_train(fast, run_dir=tmp_path / "whole"))
    send_signal_at(monkeypatch, signal.SIGTERM, at_step=2)
    with pytest.raises(TrainingInterrupted):
        train(compose_train(fast, run_dir=tmp_path / "resumed"))
    monkeypatch.undo()
    train(compose_train(fast, run_dir=tmp_path / "resumed"))
    resumed = final_state(tmp_path / "resumed")
    assert resumed["step"] == 4
    assert_same_training_state(resumed, final_state(tmp_path / "whole"))


@pytest.mark.slow
def test_channels_last_run_matches_fp32(tmp_path):
    """The first G update's losses (before any optimizer step) agree to 1e-6; the second within 2e-4: NHWC sums in
    another order, and Adam's first step (|update| = lr wherever a gradient is not ~0) turns last-bit gradient
    differences of near-zero elements into lr-sized weight differences (G's per-unit bn0 has many such)."""
    from sngan.run.logger import read_scalars
    from sngan.train import train

    logged = {}
    for name, extra in (("fp32", []), ("cl", ["speed.channels_last=true"])):
        train(compose_train(TINY + extra, run_dir=tmp_path / name))
        logged[name] = {(r["step"], r["tag"]): r["value"] for r in read_scalars(f"{tmp_path / name}/scalars.jsonl")
                        if r["tag"].startswith(("loss/", "logit/"))}
    assert logged["fp32"].keys() == logged["cl"].keys() and len(logged["fp32"]) == 8
    for (step, tag), value in logged["fp32"].items():
        assert logged["cl"][(step, tag)] == pytest.approx(value, abs=1e-6 if step == 1 else 2e-4), (step, tag)


def test_channels_last_converts_weights_and_inputs():
    from sngan.train.speed import fast_path

    conv = nn.Conv2d(3, 4, 3)
    run = fast_path(conv, _options("speed.channels_last=true"), image_input=True, images=True)
    x = torch.randn(2, 3, 8, 8)
    out = run(x)
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert out.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous(memory_format=torch.channels_last)


@pytest.mark.slow
def test_compiled_run_matches_eager(tmp_path, fp32_losses):
    """torch.compile's graph capture (aot_eager backend: traced, no C++ code generation) gives the
    eager losses within 1e-5; the SN buffers it updates in place keep their names in checkpoints."""
    compiled = _losses(tmp_path, "compiled", "speed.compile=aot_eager")
    for k in compiled:
        assert compiled[k] == pytest.approx(fp32_losses[k], abs=1e-5)
    ckpt_dir = tmp_path / "compiled" / "checkpoints"
    state = torch.load(next(ckpt_dir.iterdir()), weights_only=True)
    assert not any("_orig_mod" in k for k in state["D"]) and any(k.endswith("_u") for k in state["D"])


@pytest.mark.slow
def test_inductor_compiled_run_matches_eager(tmp_path, fp32_losses):
    """The default backend generates C++ on the CPU (several minutes here): losses within 1e-4."""
    compiled = _losses(tmp_path, "inductor", "speed.compile=true")
    for k in compiled:
        assert compiled[k] == pytest.approx(fp32_losses[k], abs=1e-4)


def test_data_on_device_off_keeps_images_in_host_memory_without_workers():
    from sngan.data.batches import BatchStream
    from sngan.data.images import TensorImages

    images = torch.randint(0, 256, (40, 1, 8, 8), dtype=torch.uint8)
    data = TensorImages(images, torch.arange(40))
    on = BatchStream(data, 8, 0, True, torch.device("cpu"), on_device=True)
    off = BatchStream(data, 8, 0, True, torch.device("cpu"), on_device=False, num_workers=2)
    assert on.tensors is not None and off.tensors is not None and not hasattr(off, "loader")
    for _ in range(3):
        (xa, ya), (xb, yb) = on.next(), off.next()
        assert torch.equal(xa, xb) and torch.equal(ya, yb)


def test_threads_option_sets_torch_threads():
    from sngan.train.speed import SpeedOptions, set_threads

    before = torch.get_num_threads()
    try:
        set_threads(SpeedOptions.parse(compose_train(["speed.threads=1"]).speed).threads)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_cpu_sync_batchnorm_equals_batchnorm_in_one_process():
    from sngan.train.sync_bn import convert_sync_bn

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 3, 1), nn.BatchNorm2d(3))
    twin = convert_sync_bn(copy.deepcopy(model), "cpu")
    assert type(twin[1]).__name__ == "CPUSyncBatchNorm"
    x = torch.randn(4, 2, 5, 5)
    assert torch.allclose(model(x), twin(x), atol=1e-6)  # no process group: plain batch norm


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_all_options_on_gpu(tmp_path):
    last = _losses(tmp_path, "gpu", "device=cuda", "speed.bf16=true", "speed.channels_last=true",
                   "speed.tf32=true", "speed.data_on_device=true")
    assert all(torch.isfinite(torch.tensor(v)) for v in last.values())
    assert torch.backends.cuda.matmul.allow_tf32
