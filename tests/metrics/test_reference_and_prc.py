"""Real-data reference numbers beside every evaluation, and precision/recall as a registered metric."""
from __future__ import annotations

import json


from conftest import compose_train, dataset_of, fidelity_of, generator_for, shape_of
from sngan.metrics import METRICS
from sngan.metrics.fidelity import RGBReference, compute_metrics, resolve_spec
from sngan.metrics.reference import real_reference
from sngan.train import train

import torch


def test_real_digits_score_like_real_data_and_are_cached():
    cfg = compose_train(["metrics.num_samples=1000", "metrics.kid_subset_size=200"])
    spec = resolve_spec(dataset_of(cfg), fidelity_of(cfg))
    reference = RGBReference(dataset_of(cfg), "train", None, 0)
    real = real_reference(reference, spec, fidelity_of(cfg), torch.device("cpu"))
    assert real["metrics/IS_digits"] > 6.0  # real digits are confidently classified and balanced
    assert 0 <= real["metrics/FID_digits"] < 5.0  # one real half against the other: close to 0
    assert real["protocol"]["halves"] == [898, 898]
    assert real_reference(reference, spec, fidelity_of(cfg), torch.device("cpu")) == real  # cached


def test_prc_is_registered_off_by_default_and_runs_when_asked(small_cfg):
    assert "prc" in METRICS and compose_train([]).metrics.prc is False
    cfg = small_cfg("train.steps=2", "metrics.enabled=true", "metrics.prc=true", "metrics.num_samples=200",
                    "metrics.kid_subset_size=100", "metrics.every.fidelity=2", "metrics.every.prc=2")
    train(cfg)
    records = [json.loads(line) for line in open(f"{cfg.run_dir}/metrics.jsonl")]
    prc = next(r for r in records if "metrics/precision_digits" in r["metrics"])
    assert 0.0 <= prc["metrics"]["metrics/precision_digits"] <= 1.0 and 0.0 <= prc["metrics"]["metrics/recall_digits"] <= 1.0
    assert prc["protocol"]["prc_neighborhood"] == 3
    fid = next(r for r in records if "metrics/FID_digits" in r["metrics"])
    assert "metrics/precision_digits" not in fid["metrics"]  # computed once, by its own entry
    assert fid["real"]["metrics/FID_digits"] < fid["metrics"]["metrics/FID_digits"]  # an untrained G is far from real


def test_paper_protocol_runs_is_on_its_own_sample_count():
    cfg = compose_train(["metrics=paper", "metrics.num_samples=100", "metrics.isc_num_samples=300",
                         "metrics.kid_subset_size=50", "metrics.reference_size=500"])


    G = generator_for(cfg)
    spec = resolve_spec(dataset_of(cfg), fidelity_of(cfg))
    reference = RGBReference(dataset_of(cfg), "train", cfg.metrics.reference_size, 0)
    scalars, protocol = compute_metrics(G, shape_of(cfg), fidelity_of(cfg), spec, reference, 100, torch.device("cpu"))
    assert protocol["isc_num_generated"] == 300 and protocol["num_generated"] == 100
    assert protocol["reference"]["size"] == 500 and protocol["precision"] == "fp32"
    assert {"metrics/IS_digits", "metrics/FID_digits", "metrics/KID_digits"} <= set(scalars)
