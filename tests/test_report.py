"""`sngan report`: tables and figures from run folders, hand-made and from a real tiny sweep."""
from __future__ import annotations

import csv
import json
import os

import pytest

from conftest import run_cli
from sngan.errors import UserError
from sngan.report import find_runs

ENV = {"OMP_NUM_THREADS": "1"}  # 2 shared cores: threads fighting each other make runs 100x slower


def fake_run(path, norm, setting, fid):
    """A run folder as `sngan train` writes it, with made-up numbers."""
    os.makedirs(path / ".hydra")
    (path / ".hydra" / "config.yaml").write_text(
        f"norm:\n  name: {norm}\nsetting_name: {setting}\ndataset:\n  name: cifar10\narch:\n  name: dcgan\n"
        f"loss:\n  name: bce\noptim:\n  lr: 0.0001\n  beta1: 0.5\n  beta2: 0.9\n  n_dis: 5\n"
        "run_dir: ${hydra:runtime.output_dir}\n")
    rows = [(10, "time/sec_per_100_G_updates", 9.0), (20, "time/sec_per_100_G_updates", 3.0),
            (20, "sigma_exact/D/fc", 1.5), (20, "sigma/D/fc", 1.4), (20, "metrics/FID", fid + 5),
            (40, "time/sec_per_100_G_updates", 5.0), (40, "sigma_exact/D/fc", 1.2), (40, "metrics/FID", fid)]
    with open(path / "scalars.jsonl", "w") as f:
        for step, tag, value in rows:
            f.write(json.dumps({"step": step, "tag": tag, "value": value}) + "\n")
    (path / "spectra.jsonl").write_text(json.dumps({"step": 40, "norm": norm, "spectra": {"fc": [2.0, 1.0, 0.5]}}) + "\n")
    (path / "metrics.jsonl").write_text(json.dumps({"step": 40, "metrics": {"FID": fid},
                                                    "protocol": {"n_generated": 5000, "reference": "train"}}) + "\n")


def test_report_on_handmade_runs(tmp_path):
    for i, (norm, setting, fid) in enumerate([("none", "A", 50.0), ("sn", "A", 30.0), ("sn", "B", 31.0)]):
        fake_run(tmp_path / "sweep" / str(i), norm, setting, fid)
    runs = find_runs([str(tmp_path / "sweep")])
    assert [(r.norm, r.setting) for r in runs] == [("none", "A"), ("sn", "A"), ("sn", "B")]
    assert runs[0].sec_per_100() == pytest.approx(4.0)  # the warm-up window (9.0) left out
    assert runs[1].protocols["metrics/FID"] == "n_generated=5000; reference=train"
    run_cli(["report", str(tmp_path / "sweep"), "--out", str(tmp_path / "out")], cwd=tmp_path, env=ENV)
    rows = list(csv.DictReader(open(tmp_path / "out" / "report.csv")))
    assert [(r["norm"], r["setting"], float(r["metrics/FID"])) for r in rows] == [
        ("none", "A", 50.0), ("sn", "A", 30.0), ("sn", "B", 31.0)]
    md = (tmp_path / "out" / "report.md").read_text()
    assert "| sn | 30 | 31 |" in md and "| none | 50 |  |" in md and "n_generated=5000" in md


def test_report_errors_name_the_fix(tmp_path):
    with pytest.raises(UserError, match="no run folders"):
        find_runs([str(tmp_path)])
    proc = run_cli(["report", str(tmp_path / "missing")], cwd=tmp_path, check=False, env=ENV)
    assert proc.returncode == 2 and "is not a folder" in proc.stderr


@pytest.mark.slow
def test_tiny_sweep_then_report(tmp_path):
    run_cli(["train", "-m", "setting=B,C", "norm=none,sn", "dataset=ring8", "arch=mlp", "train.steps=20",
             "train.log_every=5", "train.sigma_every=10", "train.sample_every=20", "train.ckpt_every=20",
             "dataset.eval_every=10", "dataset.eval_samples=200", "train.progress=false", "device=cpu",
             "batch_size=32", "hydra.sweep.dir=sweep"], cwd=tmp_path, env=ENV)
    jobs = sorted(d for d in os.listdir(tmp_path / "sweep") if os.path.isdir(tmp_path / "sweep" / d))
    assert len(jobs) == 4  # every combination in its own folder
    for job in jobs:
        assert (tmp_path / "sweep" / job / ".hydra" / "config.yaml").exists()
        assert os.listdir(tmp_path / "sweep" / job / "tb")
    run_cli(["report", "sweep", "--out", "rep"], cwd=tmp_path, env=ENV)
    out = tmp_path / "rep"
    rows = list(csv.DictReader(open(out / "report.csv")))
    assert sorted((r["norm"], r["setting"]) for r in rows) == [("none", "B"), ("none", "C"), ("sn", "B"), ("sn", "C")]
    for tag in ("metrics/modes", "metrics/high_quality", "metrics/kl_modes"):
        assert all(r[tag] != "" and "3 std" in r[f"{tag} protocol"] for r in rows)
    assert all(float(r["sec_per_100_G_updates"]) > 0 for r in rows)
    group = "ring8-mlp-bce"
    for name in (f"fig3_metrics_{group}.png", f"fig2_sigma_{group}.png", f"fig6_spectra_{group}_B.png",
                 f"fig6_spectra_{group}_C.png", f"fig10_time_{group}.png"):
        assert os.path.getsize(out / name) > 10_000, name  # a drawn figure, not an empty canvas
        assert f"]({name})" in (out / "report.md").read_text()
