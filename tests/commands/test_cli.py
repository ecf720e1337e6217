"""The installed `sngan` command: a real short run end to end, sampling, sweeps and bad input."""
from __future__ import annotations

import json
import os

import pytest
import torch
from PIL import Image

from conftest import SMALL, run_cli

TINY = [o for o in SMALL if not o.startswith("train.steps")] + ["arch.g_ch=32", "arch.d_ch=8"]
# the shared run pins the paper's setting C and bce (not the digits quickstart recipe's Adam 1e-3, beta1 0, hinge): the
# sigma_normalized bound below holds for one power iteration per step at that learning rate
RECIPE = ["setting=C", "loss=bce"]


def tb_tags(tb_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(tb_dir, size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    return set(acc.Tags()["scalars"]), set(acc.Tags()["images"])


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """One short real training run through the installed CLI, shared by the tests below."""
    root = tmp_path_factory.mktemp("cli")
    run_dir = root / "run"
    proc = run_cli(["train", "train.steps=4", f"hydra.run.dir={run_dir}", *TINY, *RECIPE], cwd=root)
    return run_dir, proc


def test_train_writes_checkpoints_loadable_with_weights_only(trained_run):
    run_dir, _ = trained_run
    ckpts = sorted(os.listdir(run_dir / "checkpoints"))
    assert ckpts == ["ckpt_000000002.pt", "ckpt_000000004.pt"]
    state = torch.load(run_dir / "checkpoints" / ckpts[-1], weights_only=True)
    assert state["step"] == 4
    for key in ("G", "D", "opt_G", "opt_D"):
        assert state[key], key
    assert state["opt_D"]["state"], "optimizer state holds Adam moments after training"
    assert any(k.endswith("parametrizations.weight.original") for k in state["D"])  # SN on D
    assert any(k.endswith("_u") for k in state["D"])  # with its persistent u


def test_train_logs_the_same_tags_to_tensorboard_and_jsonl(trained_run):
    run_dir, _ = trained_run
    rows = [json.loads(line) for line in open(run_dir / "scalars.jsonl")]
    assert all(set(r) == {"step", "tag", "value"} for r in rows)
    jsonl_tags = {r["tag"] for r in rows}
    scalar_tags, image_tags = tb_tags(str(run_dir / "tb"))
    assert jsonl_tags <= scalar_tags
    for tag in ("loss/D", "loss/G", "logit/D_real", "logit/D_fake", "time/sec_per_100_G_updates"):
        assert tag in jsonl_tags, tag
    for prefix in ("sigma/D/", "sigma_exact/D/", "sigma_normalized/D/"):
        layers = {t[len(prefix):] for t in jsonl_tags if t.startswith(prefix)}
        assert len(layers) == 8, (prefix, layers)  # 7 convs and the dense layer of the standard CNN
    assert "samples/fixed_z" in image_tags
    sigma_norm = [r["value"] for r in rows if r["tag"].startswith("sigma_normalized/")]
    assert all(abs(v - 1) < 0.1 for v in sigma_norm), sigma_norm


def test_train_writes_a_sample_grid(trained_run):
    run_dir, _ = trained_run
    png = run_dir / "samples" / "step_000000004.png"
    img = Image.open(png)
    # the 16 fixed-noise images, 4x4 with 1 px padding, each 16 px image upscaled (nearest) so the grid is >= 256 px
    assert img.size[0] == img.size[1] >= 256 and (img.size[0] - 5) % (4 * 16) == 0
    assert img.convert("L").getextrema()[0] < img.convert("L").getextrema()[1]


def test_rerun_of_a_finished_run_resumes_and_changes_nothing(trained_run, tmp_path):
    run_dir, _ = trained_run
    before = {p: os.path.getmtime(run_dir / "checkpoints" / p) for p in os.listdir(run_dir / "checkpoints")}
    proc = run_cli(["train", "train.steps=4", f"hydra.run.dir={run_dir}", *TINY, *RECIPE], cwd=tmp_path)
    assert "finished" in proc.stdout + proc.stderr
    assert before == {p: os.path.getmtime(run_dir / "checkpoints" / p) for p in os.listdir(run_dir / "checkpoints")}


def test_sample_writes_a_grid_from_a_checkpoint(trained_run, tmp_path):
    run_dir, _ = trained_run
    out = tmp_path / "grid.png"
    run_cli(["sample", f"ckpt={run_dir}/checkpoints/ckpt_000000004.pt", "n=9", f"out={out}"], cwd=tmp_path)
    size = Image.open(out).size  # 3x3 grid of 16 px images upscaled to >= 256 px, 1 px padding
    assert size[0] == size[1] >= 256 and (size[0] - 4) % (3 * 16) == 0
    run_cli(["sample", f"ckpt={run_dir}", "n=4", f"out={tmp_path / 'b.png'}"], cwd=tmp_path)  # newest in folder
    assert (tmp_path / "b.png").exists()


def test_help_lists_commands(tmp_path):
    out = run_cli(["--help"], cwd=tmp_path).stdout
    for command in ("train", "sample"):
        assert f"  {command} " in out
    assert "norm: " in run_cli(["train", "--help"], cwd=tmp_path).stdout


@pytest.mark.slow
def test_multirun_sweep_gives_each_run_its_folder(tmp_path):
    # loss=bce: without it the digits quickstart recipe's loss (hinge) would name the folders
    run_cli(["train", "-m", "setting=B,C", "norm=none,sn", "loss=bce", "train.steps=2",
             f"hydra.sweep.dir={tmp_path / 'sweep'}", *TINY], cwd=tmp_path)
    sweep = tmp_path / "sweep" / "digits"
    runs = sorted(d for d in os.listdir(sweep) if (sweep / d / "scalars.jsonl").exists())
    assert len(runs) == 4, runs  # one folder per job, named by what defines it
    assert any(d.startswith("dcgan-bce-none-B-s0") for d in runs)
    again = run_cli(["train", "-m", "setting=B,C", "norm=none,sn", "loss=bce", "train.steps=3",
                     f"hydra.sweep.dir={tmp_path / 'sweep'}", *TINY], cwd=tmp_path)
    assert sorted(os.listdir(sweep)) == runs  # a rerun of the sweep resumes each job in its folder
    assert again.stdout.count("done:") == 4  # one line per job at its end ...
    assert again.stdout.count("start: ") == 4  # ... and one at its start, so a sweep is never silent
    assert "Callback" not in again.stderr  # the sweep's Hydra callback handles every event it is sent


@pytest.mark.parametrize("args, fragment", [
    (["nosuchkey=1"], "nosuchkey"),
    (["norm=nosuch"], "norm/nosuch"),
    (["optim.lr=-0.1"], "optim.lr must be > 0"),
    (["dataset=cifar10", "dataset.root=NOWHERE"], "sngan fetch"),
    (["hydra.run.dir=AFILE/run"], "not a folder"),
])
def test_bad_input_gives_one_clear_line_and_nonzero_exit(tmp_path, args, fragment):
    (tmp_path / "AFILE").write_text("x")
    args = [a.replace("NOWHERE", str(tmp_path / "nowhere")).replace("AFILE", str(tmp_path / "AFILE")) for a in args]
    if not any(a.startswith("hydra.run.dir") for a in args):
        args.append(f"hydra.run.dir={tmp_path / 'run'}")
    proc = run_cli(["train", *args, *TINY], cwd=tmp_path, check=False)
    assert proc.returncode == 2
    assert fragment in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout and "HYDRA_FULL_ERROR" not in proc.stderr
    assert not (tmp_path / "run").exists() and not (tmp_path / "nowhere").exists()  # nothing left behind


def test_unknown_command(tmp_path):
    proc = run_cli(["trian"], cwd=tmp_path, check=False)
    assert proc.returncode == 2 and "unknown command 'trian'" in proc.stderr
