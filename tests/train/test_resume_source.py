"""Where a run resumes from: the newest readable checkpoint (falling back past corrupt ones), resume=PATH;
RNG states through weights_only loads; which config changes refuse a resume."""
from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from sngan.errors import ConfigError
from sngan.run import checkpoints as ckpt_io
from sngan.run.checkpoints import CheckpointError
from sngan.run.layout import list_checkpoints
from sngan.train.resume import check_config, config_changes, load_resume_state, rng_states, set_rng_states


def fake_state(step: int) -> dict:
    g = torch.Generator().manual_seed(step)
    return {"G": {"w": torch.randn(64, generator=g)}, "D": {"w": torch.randn(8, generator=g)}, "step": step,
            "config": {"seed": 0}, "rng": rng_states()}


def test_falls_back_to_previous_checkpoint(tmp_path, capsys):
    run = str(tmp_path)
    ckpt_io.save_checkpoint(run, fake_state(2), 2, keep=2)
    newest = ckpt_io.save_checkpoint(run, fake_state(4), 4, keep=2)
    open(newest, "r+b").truncate(100)
    state, path = load_resume_state(run, None)
    assert state["step"] == 2 and path.endswith("ckpt_000000002.pt")
    assert "corrupt" in capsys.readouterr().err
    assert (tmp_path / "checkpoints" / "ckpt_000000004.pt.corrupt").exists()  # kept aside, never loaded again
    assert [p[-8:] for p in list_checkpoints(run)] == ["00002.pt"]


def test_all_corrupt_is_an_error_and_nothing_moved(tmp_path):
    run = str(tmp_path)
    for step in (2, 4):
        open(ckpt_io.save_checkpoint(run, fake_state(step), step, keep=2), "r+b").truncate(50)
    with pytest.raises(CheckpointError, match="no readable checkpoint"):
        load_resume_state(run, None)
    assert len(list_checkpoints(run)) == 2


def test_resume_path_missing_is_clear(tmp_path):
    with pytest.raises(CheckpointError, match="resume=.*no checkpoint"):
        load_resume_state(str(tmp_path / "run"), str(tmp_path / "nowhere"))


def test_rng_states_round_trip_through_weights_only(tmp_path):
    torch.manual_seed(1), random.seed(2), np.random.seed(3)
    path = tmp_path / "rng.pt"
    torch.save(rng_states(), path)
    expected = (torch.rand(3), random.random(), np.random.rand())
    torch.manual_seed(9), random.seed(9), np.random.seed(9)
    set_rng_states(torch.load(path, weights_only=True))
    got = (torch.rand(3), random.random(), np.random.rand())
    assert torch.equal(got[0], expected[0]) and got[1:] == expected[1:]


def test_config_change_refused_unless_forced(capsys):
    saved = {"seed": 0, "optim": {"lr": 2e-4, "n_dis": 1}, "norm": {"name": "sn"}, "train": {"steps": 10}}
    current = {"seed": 0, "optim": {"lr": 1e-3, "n_dis": 1}, "norm": {"name": "none"}, "train": {"steps": 99}}
    assert set(config_changes(saved, current)) == {"optim.lr", "norm.name"}  # train.* may change
    with pytest.raises(ConfigError, match=r"norm\.name.*optim\.lr.*resume_force=true"):
        check_config(saved, current, "ckpt")
    check_config(saved, current, "ckpt", force=True)
    assert "resume_force" in capsys.readouterr().err
