"""What `ckpt=` names (a file, a run folder, RUN:best, RUN:last) and the best checkpoint beside the rolling ones."""
from __future__ import annotations

import os

import pytest
import torch

from sngan.run import checkpoints as ckpt_io
from sngan.run.checkpoints import CheckpointError, read_best, resolve_checkpoint, save_best
from sngan.run.layout import list_checkpoints


def fake_state(step: int) -> dict:
    g = torch.Generator().manual_seed(step)
    return {"G": {"w": torch.randn(16, generator=g)}, "step": step, "config": {"seed": 0}}


@pytest.fixture
def run(tmp_path):
    """A run folder with rolling checkpoints at steps 2 and 4 and a best one from step 2."""
    root = tmp_path / "run"
    for step in (2, 4):
        ckpt_io.save_checkpoint(str(root), fake_state(step), step, keep=2)
    save_best(str(root), fake_state(2), 2, "metrics/FID", 31.5)
    return root


def test_a_file_names_itself(run):
    path = str(run / "checkpoints" / "ckpt_000000002.pt")
    assert resolve_checkpoint(path) == path
    assert resolve_checkpoint(str(run / "checkpoints" / "best.pt")) == str(run / "checkpoints" / "best.pt")


@pytest.mark.parametrize("ref", ["{run}", "{run}/", "{run}/checkpoints", "{run}:last", "{run}/last",
                                 "{run}/checkpoints:last"])
def test_a_run_folder_and_last_name_the_newest_rolling_checkpoint(run, ref):
    path = resolve_checkpoint(ref.format(run=run))
    assert os.path.basename(path) == "ckpt_000000004.pt"
    assert torch.load(path, weights_only=True)["step"] == 4


@pytest.mark.parametrize("ref", ["{run}:best", "{run}/best", "{run}/checkpoints:best"])
def test_best_names_best_pt(run, ref):
    path = resolve_checkpoint(ref.format(run=run))
    assert path == str(run / "checkpoints" / "best.pt")
    assert ckpt_io.load_checkpoint(path)["step"] == 2


def test_bare_words_refer_to_the_current_folder(run, monkeypatch):
    monkeypatch.chdir(run)
    assert os.path.samefile(resolve_checkpoint("best"), run / "checkpoints" / "best.pt")
    assert os.path.samefile(resolve_checkpoint("last"), run / "checkpoints" / "ckpt_000000004.pt")


def test_best_without_best_pt_is_a_clear_error(tmp_path):
    ckpt_io.save_checkpoint(str(tmp_path / "r"), fake_state(2), 2, keep=2)
    with pytest.raises(CheckpointError, match=r"no best checkpoint in .*r.*:last"):
        resolve_checkpoint(f"{tmp_path / 'r'}:best")
    with pytest.raises(CheckpointError, match="no run folder"):
        resolve_checkpoint(f"{tmp_path / 'missing'}:best")
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        resolve_checkpoint(str(tmp_path / "missing"))


def test_a_run_with_only_best_points_at_it(tmp_path):
    save_best(str(tmp_path / "r"), fake_state(2), 2, "metrics/FID", 3.0)
    with pytest.raises(CheckpointError, match=r":best"):
        resolve_checkpoint(str(tmp_path / "r"))


def test_save_best_stores_its_record_with_a_digest(run):
    state = torch.load(run / "checkpoints" / "best.pt", weights_only=True)
    assert state["best"] == {"metric": "metrics/FID", "value": 31.5, "step": 2}
    assert state["digest"] == ckpt_io.tensor_digest(state)
    assert read_best(str(run)) == {"metric": "metrics/FID", "value": 31.5, "step": 2}
    assert read_best(str(run / "checkpoints")) == read_best(str(run))
    save_best(str(run), fake_state(4), 4, "metrics/FID", 30.0)  # a better one replaces it
    assert read_best(str(run)) == {"metric": "metrics/FID", "value": 30.0, "step": 4}
    assert not [f for f in os.listdir(run / "checkpoints") if ".tmp" in f]


def test_read_best_is_none_without_best_and_checks_the_digest(tmp_path, run):
    assert read_best(str(tmp_path / "nothing")) is None
    path = run / "checkpoints" / "best.pt"
    state = torch.load(path, weights_only=True)
    state["G"]["w"][0] += 1  # the tensor changes, the stored digest does not
    torch.save(state, path)
    with pytest.raises(CheckpointError, match="digest"):
        read_best(str(run))


def test_pruning_keeps_best_and_list_checkpoints_ignores_it(run):
    for step in range(6, 16, 2):
        ckpt_io.save_checkpoint(str(run), fake_state(step), step, keep=2)
    names = sorted(os.listdir(run / "checkpoints"))
    assert names == ["best.pt", "ckpt_000000012.pt", "ckpt_000000014.pt"]
    assert [os.path.basename(p) for p in list_checkpoints(str(run))] == ["ckpt_000000014.pt", "ckpt_000000012.pt"]
    assert read_best(str(run))["step"] == 2
    assert os.path.basename(resolve_checkpoint(str(run))) == "ckpt_000000014.pt"
