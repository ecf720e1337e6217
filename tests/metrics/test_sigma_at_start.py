"""D's spectra are reported at step 0 too: the initialization is the baseline every later spectrum is read against."""
from __future__ import annotations

from sngan.run.layout import read_jsonl
from sngan.train import train


def test_spectra_and_sigma_are_reported_before_the_first_step_and_not_again_on_resume(small_cfg):
    cfg = small_cfg("train.steps=2", "metrics.every.sigma=2")
    train(cfg)
    spectra = read_jsonl(f"{cfg.run_dir}/spectra.jsonl")
    assert [r["step"] for r in spectra] == [0, 2]
    steps = {r["step"] for r in read_jsonl(f"{cfg.run_dir}/scalars.jsonl") if r["tag"].startswith("sigma_exact/")}
    assert steps == {0, 2}
    assert spectra[0]["spectra"] != spectra[1]["spectra"]  # two D steps changed the weights
    train(small_cfg("train.steps=4", "metrics.every.sigma=2"))  # resumed at 2: no second step-0 record
    assert [r["step"] for r in read_jsonl(f"{cfg.run_dir}/spectra.jsonl")] == [0, 2, 4]
