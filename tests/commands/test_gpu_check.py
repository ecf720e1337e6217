"""scripts/gpu_check.sh: its CPU smoke mode runs the same install path and steps as on a GPU, so the day a GPU
comes its minutes are not spent on a broken script."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(REPO, "scripts", "gpu_check.sh")


def test_unknown_argument_is_refused_with_the_choices():
    result = subprocess.run(["bash", SCRIPT, "--gpu"], capture_output=True, text=True)
    assert result.returncode == 2
    assert "--prepare, --cpu-smoke" in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_cpu_smoke_runs_every_step_from_the_installed_copy(tmp_path):
    env = {**os.environ, "OUT": str(tmp_path / "out"), "PYTHON": sys.executable, "OMP_NUM_THREADS": "2"}
    result = subprocess.run(["bash", SCRIPT, "--cpu-smoke"], capture_output=True, text=True, env=env, timeout=900)
    record = json.loads((tmp_path / "out" / "gpu_check.json").read_text())
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert record["ok"] and record["mode"] == "cpu-smoke"
    steps = record["steps"]
    assert set(steps) == {"install", "resume_default", "resume_aot_eager", "throughput", "compile", "overhead",
                          "host_syncs", "gpu_tests"}
    # sngan ran from the temporary install (configs inside), never from this checkout's sngan/
    assert not os.path.realpath(steps["install"]["sngan"]).startswith(REPO + os.sep)
    # SIGTERM stopped the run (exit 75), the rerun resumed, and on the CPU's default path it ended bitwise equal
    assert steps["resume_default"]["exit_codes"] == {"uninterrupted": [0, 0], "sigterm": 75, "rerun": 0}
    assert steps["resume_default"]["max_abs_G_diff"] == 0.0
    assert set(steps["throughput"]["G_updates_per_s"]) == {"default", "aot_eager"}
    assert steps["compile"]["graph_breaks"] == 0
    assert steps["host_syncs"]["aten_ops"]["grouped_sn"] < steps["host_syncs"]["aten_ops"]["per_layer_sn"]
