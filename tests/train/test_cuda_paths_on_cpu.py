"""CUDA paths shown right on the CPU: the deferred non-finite check under data
parallelism, resuming with channels_last flipped under fused Adam, SN's grouped power iteration, CUDA-graph step
marks, fp32 metrics whatever the training path, the stop flag's collectives, and the bench cell's job."""
from __future__ import annotations

import os
import shutil

import pytest
import torch
import torch.multiprocessing as mp
from torch import nn

from conftest import SMALL, compose_train
from sngan.run.checkpoints import load_checkpoint
from sngan.run.layout import list_checkpoints
from sngan.train import train

C = ["setting=C", "loss=bce", "ema.enabled=false", "arch.g_ch=32", "arch.d_ch=8"]


def _deferred_rank(rank: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE="2",
                      LOCAL_RANK=str(rank), SNGAN_DIST_TIMEOUT_MIN="2")  # a hang fails within 2 minutes
    cfg = compose_train(SMALL + C + ["train.steps=4", "speed.threads=1", "speed.fused_adam=true",
                                     "metrics.enabled=true", "metrics.every.fidelity=2", "metrics.num_samples=100",
                                     "metrics.kid_subset_size=50", "metrics.isc_splits=2",
                                     "metrics.real_reference=false"], run_dir=os.path.join(out, "run"))
    train(cfg)


def test_two_ranks_with_the_deferred_check_finish_with_metrics_and_best_pt(tmp_path):
    """Fused Adam (forced on the CPU) defers the non-finite check to a collective read; rank 0 alone measures and
    writes best.pt: every rank reads the check at the same steps, so none waits in a collective alone."""
    from test_distributed import _free_port

    mp.spawn(_deferred_rank, args=(_free_port(), str(tmp_path)), nprocs=2)
    run = tmp_path / "run"
    assert (run / "checkpoints" / "best.pt").exists()
    assert [p[-6:] for p in list_checkpoints(str(run))] == ["004.pt", "002.pt"]
    assert "metrics/FID_digits" in open(run / "metrics.jsonl").read()


def test_resuming_with_channels_last_flipped_under_fused_adam_matches_not_flipping(tmp_path):
    """Adam's moments saved from NHWC weights keep their strides; the fused kernel walks memory, so loaded into
    NCHW weights unconverted they pair with other elements (weights 0.04 off after 2 steps)."""
    base = SMALL + C + ["speed.fused_adam=true", "train.ckpt_every=2"]
    train(compose_train(base + ["train.steps=2", "speed.channels_last=true"], run_dir=tmp_path / "a"))
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    train(compose_train(base + ["train.steps=6", "speed.channels_last=false"], run_dir=tmp_path / "a"))  # flipped
    train(compose_train(base + ["train.steps=6", "speed.channels_last=true"], run_dir=tmp_path / "b"))
    a, b = (load_checkpoint(list_checkpoints(str(tmp_path / r))[0]) for r in ("a", "b"))
    worst = max((a[m][k].float() - b[m][k].float()).abs().max().item() for m in ("G", "D") for k in a[m])
    assert worst < 1e-4  # NHWC sums in another order (measured 1.2e-5); moments paired wrongly gave 1.5e-2


def test_grouped_power_iteration_is_the_per_layer_one():
    """speed.grouped_sn (the CUDA default): u, v, sigma and the trained weights equal the per-layer path's."""
    from sngan.build import build_models, model_recipe
    from sngan.gan.norms import sigma_estimates
    from sngan.gan.norms.grouped import group_spectral_norms

    recipe = model_recipe(compose_train(["arch=resnet", "arch.g_ch=16", "arch.d_ch=8", "norm=bssn"]))
    (_, D1), (_, D2) = build_models(recipe), build_models(recipe)
    hook = group_spectral_norms(D2)
    assert len(hook.layers) == sum(1 for _ in sigma_estimates(D1))
    opts = [torch.optim.Adam(D.parameters(), lr=1e-3) for D in (D1, D2)]
    x = torch.randn(8, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    for _ in range(3):
        for D, opt in zip((D1, D2), opts):
            opt.zero_grad()
            D(x).square().mean().backward()
            opt.step()
    s1, s2 = D1.state_dict(), D2.state_dict()
    assert s1.keys() == s2.keys()
    for k in s1:
        assert torch.allclose(s1[k], s2[k], atol=1e-5), k
    hook.remove()


def test_training_with_grouped_sn_matches_the_default(tmp_path):
    from sngan.run.logger import read_scalars

    logged = {}
    for name, extra in (("plain", []), ("grouped", ["speed.grouped_sn=true"])):
        train(compose_train(SMALL + C + ["train.steps=3", "train.log_every=1"] + extra, run_dir=tmp_path / name))
        logged[name] = {(r["step"], r["tag"]): r["value"] for r in read_scalars(f"{tmp_path / name}/scalars.jsonl")
                        if r["tag"].startswith("loss/")}
    for key, value in logged["plain"].items():
        assert logged["grouped"][key] == pytest.approx(value, abs=1e-4), key


def test_cuda_graph_steps_are_marked(monkeypatch, tmp_path):
    """speed.compile_mode=reduce-overhead: each D and G step starts a new CUDA-graph step, so the previous
    replay's outputs are not overwritten while still read (the logged logits are detached copies anyway)."""
    from sngan.train.step import StepPlan, d_step, g_step

    marks = []
    monkeypatch.setattr(torch.compiler, "cudagraph_mark_step_begin", lambda: marks.append(1))
    from sngan.train.entry import bare_training, read_config

    setup = read_config(compose_train(SMALL + C, run_dir=tmp_path))
    models, plan, stream = bare_training(setup, torch.device("cpu"))
    plan = StepPlan(**{**plan.__dict__, "cuda_graphs": True})
    d = d_step(models, plan, stream.next(), 0, 0)
    g_step(models, plan, 0)
    assert len(marks) == 2 and d.real_logit.dim() == 0


def test_metrics_see_the_plain_fp32_generator_when_training_runs_bf16(small_cfg, monkeypatch):
    import sngan.metrics.image_quality as quality
    from sngan.train.speed import FastPath

    seen = []
    monkeypatch.setattr(quality, "resolve_spec", lambda *a: object())
    monkeypatch.setattr(quality, "reference_for", lambda *a: object())
    monkeypatch.setattr(quality, "compute_metrics",
                        lambda G, *a, **kw: seen.append(G) or ({"metrics/FID_digits": 1.0}, {"precision": "fp32"}))
    train(small_cfg("train.steps=2", "speed.bf16=true", "ema.enabled=false", "metrics.enabled=true",
                    "metrics.every.fidelity=2", "metrics.real_reference=false"))
    assert seen and not isinstance(seen[0], FastPath) and type(seen[0]).__name__ == "DCGANGenerator"
    z = torch.randn(2, 128)
    assert seen[0](z).dtype == torch.float32 and not torch.is_autocast_enabled()


def test_stop_and_clock_flags_are_agreed_every_few_steps_not_every_step(tmp_path):
    from sngan.train.bookkeeping import AGREE_EVERY, Bookkeeper

    calls = []

    class FakePar:
        active, is_writer = True, True

        def any_flags(self, flags):
            calls.append(flags)
            return flags

    class Schedule:
        ckpt_minutes = 10

    class Stop:
        requested = False

    book = Bookkeeper.__new__(Bookkeeper)  # only the flag logic: no run folder, logger or metrics
    book.par, book.schedule, book.stop, book.ckpt_clock = FakePar(), Schedule(), Stop(), float("inf")
    flags = [book._agreed_flags(step) for step in range(1, 31)]
    assert len(calls) == 30 // AGREE_EVERY  # one small collective every AGREE_EVERY G updates
    assert all(f == (False, False) for f in flags)


def test_the_throughput_cell_composes_the_papers_resnet_job(tmp_path):
    from sngan.commands.bench.jobs import cell_overrides

    cfg = compose_train(cell_overrides("resnet", "cifar10"), run_dir=tmp_path)
    assert (cfg.loss.name, cfg.optim.n_dis, cfg.optim.g_batch_size, cfg.batch_size) == ("hinge", 5, 128, 64)
    assert (cfg.optim.lr, cfg.optim.beta1, cfg.optim.beta2) == (2e-4, 0.0, 0.9)
