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


def test_sigma_normalized_runs_on_its_own_denser_schedule_and_matches_the_spectra(small_cfg):
    """sigma(W_bar) (Fig. 9) every metrics.every.sigma_normalized updates, at step 0 and the end; where the sigma report
    also runs, it is the top of that report's spectrum of the same layer."""
    cfg = small_cfg("train.steps=5", "metrics.every.sigma=4", "metrics.every.sigma_normalized=2", "norm=sn")
    train(cfg)
    rows = read_jsonl(f"{cfg.run_dir}/scalars.jsonl")
    by_step: dict[int, dict] = {}
    for r in rows:
        if r["tag"].startswith("sigma_normalized/D/"):
            assert r["tag"][len("sigma_normalized/D/"):] not in by_step.get(r["step"], {})  # logged once per step
            by_step.setdefault(r["step"], {})[r["tag"][len("sigma_normalized/D/"):]] = r["value"]
    assert sorted(by_step) == [0, 2, 4, 5]
    spectra = {r["step"]: r["spectra"] for r in read_jsonl(f"{cfg.run_dir}/spectra.jsonl")}
    assert sorted(spectra) == [0, 4, 5]
    for step in spectra:
        assert by_step[step] == {layer: values[0] for layer, values in spectra[step].items()}
    assert by_step[2] != by_step[4]  # measured afresh: two more D steps moved the weights


def test_measuring_sigma_normalized_every_update_leaves_training_bitwise_unchanged(tmp_path):
    """The metric only reads D (SN's vectors frozen, no random draw): a run measuring it after every update and one
    measuring it only at the end train to the same weights, optimizer states and data position."""
    import torch

    from conftest import SMALL, assert_same_training_state
    from sngan.config import compose_train
    from sngan.run.layout import list_checkpoints

    states = []
    for every in (1, 1000):
        cfg = compose_train(SMALL + ["train.steps=5", "norm=sn", f"metrics.every.sigma_normalized={every}"],
                            run_dir=str(tmp_path / f"every{every}"))
        train(cfg)
        steps = {r["step"] for r in read_jsonl(f"{cfg.run_dir}/scalars.jsonl")
                 if r["tag"].startswith("sigma_normalized/")}
        assert steps == ({0, 1, 2, 3, 4, 5} if every == 1 else {0, 5})
        states.append(torch.load(list_checkpoints(cfg.run_dir)[0], weights_only=True))  # newest first
    assert_same_training_state(*states)


def test_a_resumed_run_logs_no_second_step_zero_sigma_normalized(small_cfg):
    cfg = small_cfg("train.steps=2", "metrics.every.sigma_normalized=2")
    train(cfg)
    train(small_cfg("train.steps=4", "metrics.every.sigma_normalized=2"))
    rows = [r for r in read_jsonl(f"{cfg.run_dir}/scalars.jsonl") if r["tag"] == "sigma_normalized/D/fc"]
    assert [r["step"] for r in rows] == [0, 2, 4]
