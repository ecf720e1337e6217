"""`sngan bench`: the timing arithmetic and a tiny real run through the CLI (no timing thresholds)."""
from __future__ import annotations

import json

import pytest

from conftest import run_cli
from sngan.bench import timed_sec_per_100


def test_warmup_window_is_left_out_and_windows_weighted():
    tag = "time/sec_per_100_G_updates"
    rows = [{"step": 5, "tag": tag, "value": 100.0},   # warm-up: 5 steps
            {"step": 10, "tag": tag, "value": 2.0},    # 5 steps at 2 s / 100
            {"step": 12, "tag": tag, "value": 7.0},    # 2 steps at 7 s / 100
            {"step": 12, "tag": "loss/D", "value": 1.0}]
    assert timed_sec_per_100(rows, warmup=5) == pytest.approx(100 * (0.1 + 0.14) / 7)


def test_bench_cli_table(tmp_path):
    run_cli(["bench", "--arch", "mlp", "--norm", "sn,none", "--steps", "4", "--warmup", "2",
             "--batch-size", "16", "--device", "cpu", "--json", "rows.json"], cwd=tmp_path,
            env={"OMP_NUM_THREADS": "1"})
    rows = json.load(open(tmp_path / "rows.json"))
    assert [(r["arch"], r["norm"]) for r in rows] == [("mlp", "none"), ("mlp", "sn")]  # baseline first
    assert all(r["sec_per_100_G_updates"] > 0 and r["ratio_to_none"] > 0 for r in rows)
    assert rows[0]["ratio_to_none"] == pytest.approx(1.0)
