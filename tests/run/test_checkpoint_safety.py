"""Checkpoint files: atomic, at least two kept, partial writes ignored, corruption caught.
(Falling back to an older checkpoint on resume: train/test_resume_source.py.)"""
from __future__ import annotations

import pytest
import torch

from sngan.run import checkpoints as ckpt_io
from sngan.run.checkpoints import CheckpointError
from sngan.run.layout import list_checkpoints
from sngan.train.resume import rng_states


def fake_state(step: int) -> dict:
    g = torch.Generator().manual_seed(step)
    return {"G": {"w": torch.randn(64, generator=g)}, "D": {"w": torch.randn(8, generator=g)}, "step": step,
            "config": {"seed": 0}, "rng": rng_states()}


def test_keeps_at_least_two_and_loads_weights_only(tmp_path):
    for step in (1, 2, 3, 4):
        ckpt_io.save_checkpoint(str(tmp_path), fake_state(step), step, keep=1)
    found = list_checkpoints(str(tmp_path))
    assert [p[-8:] for p in found] == ["00004.pt", "00003.pt"]
    state = torch.load(found[0], weights_only=True)  # RNG states and all are plain containers
    assert state["step"] == 4 and torch.equal(state["G"]["w"], fake_state(4)["G"]["w"])


def test_partial_temp_file_ignored_then_cleaned(tmp_path):
    ckpt_io.save_checkpoint(str(tmp_path), fake_state(2), 2, keep=2)
    tmp = tmp_path / "checkpoints" / "ckpt_000000004.pt.tmp999"
    tmp.write_bytes(b"PK\x03\x04 half a zip")
    assert [p[-8:] for p in list_checkpoints(str(tmp_path))] == ["00002.pt"]
    ckpt_io.save_checkpoint(str(tmp_path), fake_state(3), 3, keep=2)
    assert not tmp.exists()


@pytest.mark.parametrize("damage", ["truncate", "flip_tensor_byte", "garbage"])
def test_damaged_checkpoint_gives_clear_error(tmp_path, damage):
    path = ckpt_io.save_checkpoint(str(tmp_path), fake_state(2), 2, keep=2)
    data = bytearray(open(path, "rb").read())
    if damage == "truncate":
        data = data[:len(data) // 2]
    elif damage == "garbage":
        data = bytearray(b"not a checkpoint" * 10)
    else:  # a flipped bit inside G's tensor data: torch.load alone would not notice
        offset = bytes(data).find(fake_state(2)["G"]["w"].numpy().tobytes())
        assert offset > 0
        data[offset + 5] ^= 0xFF
    open(path, "wb").write(bytes(data))
    with pytest.raises(CheckpointError, match="corrupt"):
        ckpt_io.load_checkpoint(path)
