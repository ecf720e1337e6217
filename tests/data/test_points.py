"""2-D mixture benchmark: the mixtures, resumable batches, the metrics on hand-made samples, training."""
from __future__ import annotations

import json
import math
import os

import pytest
import torch

from sngan import toy2d
from sngan.errors import ConfigError
from sngan.hparams import final_metrics
from sngan.models import build_generator
from sngan.train import train
from conftest import compose_train


def test_mixtures_are_the_standard_ones():
    ring = toy2d.ring8()
    assert ring.num_modes == 8 and ring.std == 0.02
    assert torch.allclose(ring.centers.norm(dim=1), torch.full((8,), 2.0), atol=1e-6)
    assert torch.allclose(ring.centers[2], torch.tensor([0.0, 2.0]), atol=1e-6)
    grid = toy2d.grid25()
    assert grid.num_modes == 25 and grid.std == 0.05
    assert sorted(set(grid.centers[:, 0].tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0]
    assert len({tuple(c) for c in grid.centers.tolist()}) == 25


def test_all_modes_hit_exactly():
    mix = toy2d.grid25()
    m = toy2d.mode_metrics(mix.centers.repeat(4, 1), mix)
    assert m == {"metrics/modes": 25.0, "metrics/high_quality": 1.0, "metrics/kl_modes": pytest.approx(0.0, abs=1e-12)}


def test_half_the_modes():
    mix = toy2d.ring8()
    samples = mix.centers[:4].repeat(10, 1)
    m = toy2d.mode_metrics(samples, mix)
    assert m["metrics/modes"] == 4.0
    assert m["metrics/high_quality"] == 1.0
    assert m["metrics/kl_modes"] == pytest.approx(math.log(2))  # uniform over 4 of 8: log(8/4)


def test_one_mode_collapse_and_far_samples():
    mix = toy2d.ring8()
    collapsed = toy2d.mode_metrics(mix.centers[:1].repeat(50, 1), mix)
    assert collapsed["metrics/modes"] == 1.0 and collapsed["metrics/kl_modes"] == pytest.approx(math.log(8))
    far = toy2d.mode_metrics(torch.full((100, 2), 10.0), mix)
    assert far == {"metrics/modes": 0.0, "metrics/high_quality": 0.0, "metrics/kl_modes": pytest.approx(math.log(8))}


def test_three_std_boundary_and_mixed_quality():
    mix = toy2d.ring8()
    c = mix.centers[0]
    inside = c + torch.tensor([2.9 * mix.std, 0.0])
    outside = c + torch.tensor([3.1 * mix.std, 0.0])
    m = toy2d.mode_metrics(torch.stack([inside, outside, outside, outside]), mix)
    assert m["metrics/high_quality"] == 0.25 and m["metrics/modes"] == 1.0


def test_min_count_and_skewed_histogram():
    mix = toy2d.ring8()
    samples = torch.cat([mix.centers[0].repeat(3, 1), mix.centers[1].repeat(1, 1)])
    assert toy2d.mode_metrics(samples, mix, min_count=2)["metrics/modes"] == 1.0
    p = torch.tensor([0.75, 0.25])
    expected = float((p * (p * 8).log()).sum())
    assert toy2d.mode_metrics(samples, mix)["metrics/kl_modes"] == pytest.approx(expected)


def test_real_samples_score_as_real():
    mix = toy2d.grid25()
    points, _ = toy2d.sample_mixture(mix, 5000, torch.Generator().manual_seed(0))
    m = toy2d.mode_metrics(points, mix)
    assert m["metrics/modes"] == 25.0
    assert m["metrics/high_quality"] > 0.98  # 3 std in 2-D holds 1 - exp(-4.5) = 98.9 %
    assert m["metrics/kl_modes"] < 0.02


def test_point_stream_is_resumable():
    cfg = compose_train(["dataset=ring8", "arch=mlp"]).dataset
    a = toy2d.PointStream(cfg, 32, 7, torch.device("cpu"))
    first = [a.next()[0] for _ in range(5)]
    b = toy2d.PointStream(cfg, 32, 7, torch.device("cpu"), start=3)
    assert torch.equal(b.next()[0], first[3]) and b.position == 4
    assert not torch.equal(first[0], first[1])
    x, y = first[0], None
    assert x.shape == (32, 2) and x.dtype == torch.float32


def test_arch_and_dataset_must_match():
    with pytest.raises(ConfigError, match="arch=mlp"):
        build_generator(compose_train(["dataset=ring8", "arch=dcgan"]))
    with pytest.raises(ConfigError, match="arch=mlp"):
        build_generator(compose_train(["dataset=digits", "arch=mlp"]))
    with pytest.raises(ConfigError, match="choose one of"):
        toy2d.mixture("ring9")


def test_training_on_ring8_logs_2d_metrics_scatter_and_hparams(small_cfg, tmp_path):
    cfg = small_cfg("dataset=ring8", "arch=mlp", "dataset.eval_every=2", "dataset.eval_samples=200", "norm=sn")
    last = train(cfg)
    assert {"metrics/modes", "metrics/high_quality", "metrics/kl_modes"} <= set(last)
    run = tmp_path / "run"
    rows = [json.loads(line) for line in open(run / "scalars.jsonl")]
    steps = sorted(r["step"] for r in rows if r["tag"] == "metrics/modes")
    assert steps == [2, 4]
    png = run / "samples" / "step_000000004.png"
    assert png.exists() and os.path.getsize(png) > 5000  # a real scatter plot, not an empty image
    assert set(final_metrics(str(run))) >= {"hparam/modes", "hparam/high_quality", "hparam/kl_modes"}
    assert len(json.loads(open(run / "spectra.jsonl").readline())["spectra"]) == 4  # four Linear layers in D


def test_ring8_samples_and_metrics_come_from_the_ema_generator_when_on(small_cfg, monkeypatch):
    import sngan.train as trainer

    seen = []
    real_evaluate, real_snapshot = toy2d.evaluate, toy2d.snapshot
    monkeypatch.setattr(toy2d, "evaluate", lambda G, *a: seen.append(G) or real_evaluate(G, *a))
    monkeypatch.setattr(toy2d, "snapshot", lambda G, *a: seen.append(G) or real_snapshot(G, *a))
    built = {}
    original = trainer.build_models
    monkeypatch.setattr(trainer, "build_models", lambda cfg, dev: built.setdefault("GD", original(cfg, dev)))
    train(small_cfg("dataset=ring8", "arch=mlp", "dataset.eval_every=2", "dataset.eval_samples=50",
                    "ema.enabled=true", "ema.start=0"))
    G = built["GD"][0]
    assert len(seen) >= 2 and all(g is not G for g in seen)  # the average, never the raw G
