"""scripts/comparison_grid.sh, the job list behind docs/results: its jobs are the published grids (the Fashion-MNIST
jobs exactly the preset's config), and a worker runs what fits before its deadline, saves a finished run's records
where `sngan report` reads them, skips a job whose records are saved, and measures with the grid's one classifier."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from conftest import compose_train

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(REPO, "scripts", "comparison_grid.sh")
NORMS = {"sn", "none", "wc", "wn", "gp", "ln", "ortho"}


def _jobs(env=None):
    out = subprocess.run(["bash", SCRIPT, "list"], capture_output=True, text=True, check=True, env=env).stdout
    return [(int(m), job, opts.split()) for m, job, opts in (line.split(" ", 2) for line in out.splitlines())]


def _cells(jobs, grid):
    return {tuple(job.split("/")[1:]) for _, job, _ in jobs if job.startswith(grid + "/")}


def test_the_fashion_mnist_jobs_are_the_preset_in_both_settings_for_seven_norms_and_three_seeds():
    jobs = _jobs()
    assert _cells(jobs, "fashion_mnist") == {(s, f"{n}-s{k}") for s in ("default", "D") for n in NORMS for k in range(3)}
    for _, job, opts in (j for j in jobs if j[1].startswith("fashion_mnist/")):
        cfg = compose_train([o for o in opts if o != "train.progress=false"])
        setting, cell = job.split("/")[1:]
        norm, seed = cell.rsplit("-s", 1)
        preset = compose_train(["experiment=fashion_mnist_comparison", f"setting={setting}", f"norm={norm}",
                                f"loss={'wgan' if norm == 'gp' else 'hinge'}", f"seed={seed}"])
        for key in ("arch", "train", "metrics", "optim", "loss", "norm", "ema", "speed", "dataset", "seed"):
            assert cfg[key] == preset[key], (job, key)


def test_the_digits_jobs_hold_wn_in_all_six_settings_and_c3_varies_only_n_dis():
    jobs = _jobs()
    for s in "ABCDEF":
        assert {c for setting, c in _cells(jobs, "digits") if setting == s} == {
            f"{n}-s{k}" for n in ("sn", "gp", "wc", "wn") for k in range(3)}, s
    c3 = {}
    for _, job, opts in jobs:
        if job.startswith("c3/") or job.startswith("digits/D/sn") or job.startswith("digits/D/wn"):
            cfg = compose_train([o for o in opts if o != "train.progress=false"])
            c3[job] = cfg
            assert (cfg.optim.lr, cfg.optim.beta1, cfg.optim.beta2) == (1e-3, 0.5, 0.9), job  # setting D's
    assert sorted({(c.optim.n_dis, c.norm.name) for c in c3.values()}) == [
        (n_dis, norm) for n_dis in (1, 5, 20) for norm in ("sn", "wn")]
    assert all(sum(1 for c in c3.values() if (c.optim.n_dis, c.norm.name) == key) == 3
               for key in {(c.optim.n_dis, c.norm.name) for c in c3.values()})


@pytest.mark.skipif(shutil.which("git") is None or not os.path.isdir(os.path.join(REPO, ".git")),
                    reason="needs the project's git checkout")
def test_a_worker_runs_what_fits_saves_the_records_and_skips_them_next_time(tmp_path):
    head = subprocess.run(["git", "-C", REPO, "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()
    tiny = ("dataset=digits arch.g_ch=8 arch.d_ch=8 batch_size=8 train.steps=4 train.sample_every=4 "
            "metrics.enabled=false metrics.every.sigma=4 train.progress=false seed=0")
    (tmp_path / "jobs").write_text(f"1 toy/A/sn-s0 {tiny} norm=sn\n999 toy/A/wn-s0 {tiny} norm=wn\n")
    code = tmp_path / "code"
    env = {**os.environ, "GRID_JOBS": str(tmp_path / "jobs"), "RUNS": str(tmp_path / "runs"),
           "RECORDS": str(tmp_path / "records"), "GRID_CODE": str(code), "GRID_COMMIT": head,
           "PYTHON": sys.executable, "SNGAN_CACHE": str(tmp_path / "cache")}
    (tmp_path / "records" / "classifiers").mkdir(parents=True)
    (tmp_path / "records" / "classifiers" / "kept.pt").write_bytes(b"the grid's classifier")
    (tmp_path / "cache" / "classifiers").mkdir(parents=True)
    (tmp_path / "cache" / "classifiers" / "kept.pt").write_bytes(b"one retrained elsewhere")
    (tmp_path / "cache" / "classifiers" / "new.pt").write_bytes(b"a first classifier")
    try:
        first = subprocess.run(["bash", SCRIPT, "work", "+1 hour"], capture_output=True, text=True, env=env)
        assert first.returncode == 0, first.stderr
        assert "toy/A/sn-s0 saved" in first.stdout
        assert "toy/A/wn-s0" not in first.stdout  # 999 minutes do not end within the hour
        record = tmp_path / "records" / "toy" / "runs" / "A" / "sn-s0"
        kept = {"run.yaml", "scalars.jsonl", "metrics.jsonl", "spectra.jsonl", "samples"}
        assert {"run.yaml", "scalars.jsonl", "spectra.jsonl", "samples"} <= set(os.listdir(record))
        assert set(os.listdir(record)) == kept & set(os.listdir(tmp_path / "runs" / "toy" / "A" / "sn-s0"))
        assert os.listdir(record / "samples") == ["step_000000004.png"]
        assert os.listdir(tmp_path / "records" / "toy" / "runs" / "A") == ["sn-s0"]  # no temp folder left
        # the grid's classifier goes back into the cache; a first one trained is kept with the records
        assert (tmp_path / "cache" / "classifiers" / "kept.pt").read_bytes() == b"the grid's classifier"
        assert (tmp_path / "records" / "classifiers" / "new.pt").read_bytes() == b"a first classifier"
        report = subprocess.run([sys.executable, "-m", "sngan.cli", "report", str(tmp_path / "records"), "--out",
                                 str(tmp_path / "report")], capture_output=True, text=True)
        assert report.returncode == 0, report.stderr
        assert '"runs": 1' in report.stdout
        again = subprocess.run(["bash", SCRIPT, "work", "+1 hour"], capture_output=True, text=True, env=env)
        assert again.returncode == 0 and "toy/A/sn-s0" not in again.stdout
        status = subprocess.run(["bash", SCRIPT, "status"], capture_output=True, text=True, env=env).stdout
        assert status.split() == ["1", "done", "toy/A", "1", "todo", "toy/A"]
        bad = subprocess.run(["bash", SCRIPT, "work", "not a date"], capture_output=True, text=True, env=env)
        assert bad.returncode == 2 and "DEADLINE" in bad.stderr
    finally:
        subprocess.run(["git", "-C", REPO, "worktree", "remove", "--force", str(code)], capture_output=True)
