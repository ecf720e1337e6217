"""Data-parallel training (sngan.train.parallel): 2 CPU processes with gloo against one process."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess

import pytest
import torch
import torch.multiprocessing as mp

from conftest import SMALL, compose_train, run_cli, sngan_exe

# 3 G updates, every one logged; no sigma/sample work in between (it does not touch the training state)
RUN = SMALL + ["train.steps=3", "train.log_every=1", "metrics.every.sigma=3", "train.sample_every=3",
               "train.ckpt_every=3", "speed.threads=1",
               # the recipe the tolerances below were measured with (Adam 2e-4, beta1 0.5, the CNN's default
               # widths), not the quickstart recipe's
               "setting=C", "loss=bce", "arch.g_ch=null", "arch.d_ch=null", "ema.enabled=false"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _train_capturing_models(cfg) -> dict:
    """Run the real trainer and return the state of the G and D it trained."""
    import sngan.train.entry as trainer  # entry imports build_models by name: patched there

    built, original = {}, trainer.build_models

    def build(*args, **kwargs):
        built["G"], built["D"] = original(*args, **kwargs)
        return built["G"], built["D"]

    trainer.build_models = build
    try:
        trainer.train(cfg)
    finally:
        trainer.build_models = original
    return {name: {k: v.detach().clone() for k, v in m.state_dict().items()} for name, m in built.items()}


def _rank_main(rank: int, world: int, port: int, out: str, overrides: list[str]) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_RANK=str(rank))
    # each rank is handed its own folder: the run must still use rank 0's alone
    cfg = compose_train(RUN + overrides, run_dir=os.path.join(out, f"run_rank{rank}"))
    torch.save(_train_capturing_models(cfg), os.path.join(out, f"state{rank}.pt"))


def _losses(run_dir) -> dict:
    rows = [json.loads(line) for line in open(os.path.join(run_dir, "scalars.jsonl"))]
    return {(r["step"], r["tag"]): r["value"] for r in rows if r["tag"].startswith("loss/")}


def _two_ranks_and_single(tmp_path, overrides):
    mp.spawn(_rank_main, args=(2, _free_port(), str(tmp_path), overrides), nprocs=2)
    ranks = [torch.load(tmp_path / f"state{r}.pt") for r in range(2)]
    single = _train_capturing_models(compose_train(RUN + overrides, run_dir=tmp_path / "single"))
    return ranks, single


def _max_diff(a: dict, b: dict) -> float:
    return max((a[m][k].double() - b[m][k].double()).abs().max().item() for m in a for k in a[m])


def test_two_processes_match_one_process_with_sync_bn(tmp_path):
    """Global batch 16 as 2 x 8 with G's batch norm synchronized: the same arithmetic as one process,
    so parameters, buffers and losses agree up to float rounding (tolerance 1e-4; measured ~1e-6)."""
    (rank0, rank1), single = _two_ranks_and_single(tmp_path, ["speed.sync_bn=true"])
    for model in ("G", "D"):  # every parameter and buffer (SN's u/v, BN statistics) identical across ranks
        assert rank0[model].keys() == rank1[model].keys()
        for key in rank0[model]:
            assert torch.equal(rank0[model][key], rank1[model][key]), f"{model}.{key} differs between ranks"
    assert any("_u" in k for k in rank0["D"]) and any("running_mean" in k for k in rank0["G"])
    assert _max_diff(rank0, single) < 1e-4
    # rank 0's checkpoint holds the state every rank ended with
    ckpt_dir = tmp_path / "run_rank0" / "checkpoints"
    ckpt = torch.load(ckpt_dir / sorted(os.listdir(ckpt_dir))[-1], weights_only=True)
    assert _max_diff(rank0, {m: ckpt[m] for m in ("G", "D")}) == 0.0
    # one run folder, written by rank 0 only; logged losses are the global batch's
    assert not (tmp_path / "run_rank1").exists()
    ddp, one = _losses(tmp_path / "run_rank0"), _losses(tmp_path / "single")
    assert ddp.keys() == one.keys() and len(ddp) == 6
    for key in one:
        assert abs(ddp[key] - one[key]) < 1e-4, key


@pytest.mark.slow
def test_two_processes_without_sync_bn_stay_close(tmp_path):
    """Without sync_bn each rank normalizes by its own 8 images: ranks stay identical (rank 0's BN
    statistics are broadcast), losses stay within 5e-3 of one process (measured ~7e-4 after 3 steps)."""
    (rank0, rank1), single = _two_ranks_and_single(tmp_path, [])
    for model in ("G", "D"):
        for key in rank0[model]:
            assert torch.equal(rank0[model][key], rank1[model][key]), f"{model}.{key} differs between ranks"
    ddp, one = _losses(tmp_path / "run_rank0"), _losses(tmp_path / "single")
    for key in one:
        assert abs(ddp[key] - one[key]) < 5e-3, key


def test_batch_size_must_split_over_ranks():
    from sngan.errors import ConfigError
    from sngan.train.parallel import Parallel

    with pytest.raises(ConfigError, match="divisible by 3"):
        Parallel(rank=0, world=3).check_batch(16)


def test_shard_takes_the_rows_batchplan_gives_the_rank():
    from sngan.data.batches import BatchPlan
    from sngan.train.parallel import Parallel

    z = torch.arange(12)
    parts = [Parallel(rank=r, world=3).shard(z) for r in range(3)]
    assert sorted(torch.cat(parts).tolist()) == list(range(12))
    plan = [BatchPlan(100, 12, 0, rank=r, world=3) for r in range(3)]
    whole = BatchPlan(100, 12, 0).indices(5)
    for r in range(3):  # the same positions of the global batch for data and for noise
        assert torch.equal(plan[r].indices(5), whole[parts[r]])


def test_sweep_under_torchrun_is_refused(tmp_path):
    proc = run_cli(["train", "-m", "norm=none,sn"], cwd=tmp_path, env={"WORLD_SIZE": "2"}, check=False,
                   timeout=120)
    assert proc.returncode == 2
    assert "cannot run under torchrun" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_torchrun_cli_writes_one_run_folder(tmp_path):
    torchrun = shutil.which("torchrun")
    if torchrun is None:
        pytest.skip("torchrun is not installed")
    args = ["train", "dataset=digits", "train.steps=2", "train.log_every=1", "metrics.every.sigma=2",
            "train.sample_every=2", "train.ckpt_every=2", "batch_size=16", "device=cpu", "train.n_samples=16",
            "train.progress=false", "speed.threads=1"]
    proc = subprocess.run([torchrun, "--standalone", "--nproc_per_node=2", *sngan_exe(), *args], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    runs = os.listdir(tmp_path / "outputs" / "digits")
    assert len(runs) == 1, runs
    run = tmp_path / "outputs" / "digits" / runs[0]
    assert (run / "run.yaml").exists() and (run / "checkpoints").is_dir()  # the record, written by rank 0 once
    assert {k[0] for k in _losses(run)} == {1, 2}


@pytest.mark.slow
@pytest.mark.parametrize("overrides", [
    ["norm=gp", "loss=wgan"],                                         # double backward through D under DDP
    ["norm=bn"],                                                      # two D forwards before one backward
    ["arch=resnet", "arch.cond=true", "arch.g_ch=16", "arch.d_ch=8"],  # labels, projection D
], ids=["wgan-gp", "bn", "conditional"])
def test_two_processes_with_other_options_stay_identical_across_ranks(tmp_path, overrides):
    (rank0, rank1), single = _two_ranks_and_single(tmp_path, ["speed.sync_bn=true"] + overrides)
    for model in ("G", "D"):
        for key in rank0[model]:
            assert torch.equal(rank0[model][key], rank1[model][key]), f"{model}.{key} differs between ranks"
    # Adam's first steps move each weight by about lr whatever the gradient's size, so a gradient that
    # is ~0 up to rounding can flip sign: allow a few lr (2e-4) over 3 steps against one process
    assert _max_diff(rank0, single) < 5e-3
