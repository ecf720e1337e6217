"""2-D mixture benchmark metrics: mode metrics on hand-made samples and real ones, and training runs that
log them (the registered metric 'modes') with scatter-plot snapshots."""
from __future__ import annotations

import json
import math
import os

import pytest
import torch

from sngan.data.points import grid25, ring8, sample_mixture
from sngan.metrics.modes import ModeMetrics, mode_metrics
from sngan.run.hparams import final_metrics
from sngan.run.layout import RunFolder
from sngan.train import train
from sngan.train.snapshots import SampleWriter


def test_all_modes_hit_exactly():
    mix = grid25()
    m = mode_metrics(mix.centers.repeat(4, 1), mix, 1)
    assert m == {"metrics/modes": 25.0, "metrics/high_quality": 1.0, "metrics/kl_modes": pytest.approx(0.0, abs=1e-12)}


def test_half_the_modes():
    mix = ring8()
    samples = mix.centers[:4].repeat(10, 1)
    m = mode_metrics(samples, mix, 1)
    assert m["metrics/modes"] == 4.0
    assert m["metrics/high_quality"] == 1.0
    assert m["metrics/kl_modes"] == pytest.approx(math.log(2))  # uniform over 4 of 8: log(8/4)


def test_one_mode_collapse_and_far_samples():
    mix = ring8()
    collapsed = mode_metrics(mix.centers[:1].repeat(50, 1), mix, 1)
    assert collapsed["metrics/modes"] == 1.0 and collapsed["metrics/kl_modes"] == pytest.approx(math.log(8))
    far = mode_metrics(torch.full((100, 2), 10.0), mix, 1)
    assert far == {"metrics/modes": 0.0, "metrics/high_quality": 0.0, "metrics/kl_modes": pytest.approx(math.log(8))}


def test_three_std_boundary_and_mixed_quality():
    mix = ring8()
    c = mix.centers[0]
    inside = c + torch.tensor([2.9 * mix.std, 0.0])
    outside = c + torch.tensor([3.1 * mix.std, 0.0])
    m = mode_metrics(torch.stack([inside, outside, outside, outside]), mix, 1)
    assert m["metrics/high_quality"] == 0.25 and m["metrics/modes"] == 1.0


def test_min_count_and_skewed_histogram():
    mix = ring8()
    samples = torch.cat([mix.centers[0].repeat(3, 1), mix.centers[1].repeat(1, 1)])
    assert mode_metrics(samples, mix, min_count=2)["metrics/modes"] == 1.0
    p = torch.tensor([0.75, 0.25])
    expected = float((p * (p * 8).log()).sum())
    assert mode_metrics(samples, mix, 1)["metrics/kl_modes"] == pytest.approx(expected)


def test_real_samples_score_as_real():
    mix = grid25()
    points, _ = sample_mixture(mix, 5000, torch.Generator().manual_seed(0))
    m = mode_metrics(points, mix, 1)
    assert m["metrics/modes"] == 25.0
    assert m["metrics/high_quality"] > 0.98  # 3 std in 2-D holds 1 - exp(-4.5) = 98.9 %
    assert m["metrics/kl_modes"] < 0.02


def test_training_on_ring8_logs_2d_metrics_scatter_and_hparams(small_cfg, tmp_path):
    cfg = small_cfg("dataset=ring8", "arch=mlp", "metrics.every.modes=2", "metrics.modes.num_samples=200", "norm=sn")
    last = train(cfg)
    assert {"metrics/modes", "metrics/high_quality", "metrics/kl_modes"} <= set(last)
    run = tmp_path / "run"
    rows = [json.loads(line) for line in open(run / "scalars.jsonl")]
    steps = sorted(r["step"] for r in rows if r["tag"] == "metrics/modes")
    assert steps == [2, 4]
    png = run / "samples" / "step_000000004.png"
    assert png.exists() and os.path.getsize(png) > 5000  # a real scatter plot, not an empty image
    assert set(final_metrics(RunFolder(str(run)))) >= {"hparam/modes", "hparam/high_quality", "hparam/kl_modes"}
    assert len(json.loads(open(run / "spectra.jsonl").readline())["spectra"]) == 4  # four Linear layers in D


def test_ring8_samples_and_metrics_come_from_the_ema_generator_when_on(small_cfg, monkeypatch):
    import sngan.train.entry as trainer  # entry imports build_models by name: patched there

    seen = {"metric": [], "snapshot": []}
    real_evaluate, real_snapshot = ModeMetrics.__call__, SampleWriter.__call__  # the 'modes' metric; snapshots
    monkeypatch.setattr(ModeMetrics, "__call__",
                        lambda self, ctx: seen["metric"].append(ctx.G) or real_evaluate(self, ctx))
    monkeypatch.setattr(SampleWriter, "__call__",
                        lambda self, G, step: seen["snapshot"].append(G) or real_snapshot(self, G, step))
    built = {}
    original = trainer.build_models
    monkeypatch.setattr(trainer, "build_models", lambda *a, **kw: built.setdefault("GD", original(*a, **kw)))
    train(small_cfg("dataset=ring8", "arch=mlp", "metrics.every.modes=2", "metrics.modes.num_samples=50",
                    "ema.enabled=true", "ema.start=0"))
    G = built["GD"][0]
    both = seen["metric"] + seen["snapshot"]
    assert len(both) >= 2 and all(g is not G for g in both)  # the average, never the raw G
    assert seen["metric"] and seen["snapshot"]  # both the mode metrics and the scatter plots were drawn
