"""`sngan eval`: one JSON line with metrics and protocol through the installed CLI, and the checkpoint read once."""
from __future__ import annotations

import json

import pytest

from conftest import run_cli
from sngan.train import train


@pytest.mark.slow
def test_eval_prints_one_json_line_with_metrics_and_protocol(small_cfg, tmp_path):
    cfg = small_cfg("arch.g_ch=16", "arch.d_ch=8")
    train(cfg)
    proc = run_cli(["eval", f"ckpt={cfg.run_dir}", "device=cpu", "metrics.num_samples=100", "metrics.isc_splits=2"],
                   cwd=tmp_path)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["step"] == 4 and result["ckpt"].endswith("ckpt_000000004.pt")
    assert set(result["metrics"]) >= {"metrics/IS_digits", "metrics/FID_digits", "metrics/KID_digits"}
    assert result["metrics"]["metrics/FID_digits"] > 0
    p = result["protocol"]
    assert p["num_generated"] == 100 and p["reference"] == {**p["reference"], "dataset": "digits", "size": 1797}
    assert p["extractor"] == "sngan-classifier" and p["classifier_test_accuracy"] >= 0.9


def test_eval_reads_the_checkpoint_once_and_evaluates_its_generator(small_cfg, monkeypatch, capsys):
    import torch
    from hydra import compose, initialize_config_module

    import sngan.commands.eval as evaluate  # imports load_checkpoint and compute_metrics by name: patched there
    import sngan.run.checkpoints as checkpoints
    from sngan.build import load_generator

    cfg = small_cfg("arch.g_ch=16", "arch.d_ch=8")
    train(cfg)
    reads = []

    original = checkpoints.load_checkpoint

    def counting_load(path, *args, **kwargs):
        reads.append(path)
        return original(path, *args, **kwargs)

    monkeypatch.setattr(evaluate, "load_checkpoint", counting_load)
    monkeypatch.setattr(checkpoints, "load_checkpoint", counting_load)
    seen = {}

    def recording_compute(G, *args, **kwargs):
        seen["G"] = G
        return {"metrics/FID_digits": 1.0}, {}

    monkeypatch.setattr(evaluate, "compute_metrics", recording_compute)
    with initialize_config_module("sngan.conf", version_base="1.3"):
        ecfg = compose("eval", overrides=[f"ckpt={cfg.run_dir}", "device=cpu", "metrics.fid=false",
                                          "metrics.kid=false"])
    result = evaluate.evaluate(ecfg)
    assert len(reads) == 1 and result["step"] == 4
    # the very generator load_generator builds from the same file
    expected = load_generator(reads[0], torch.device("cpu"))
    z = torch.randn(4, int(cfg.z_dim), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(seen["G"](z), expected(z))
