"""`sngan bench`: the timing arithmetic and a tiny real run through the CLI (no timing thresholds)."""
from __future__ import annotations

import json

import pytest

from conftest import run_cli
from sngan.commands.bench.cells import timed_sec_per_100


def test_warmup_window_is_left_out_and_windows_weighted():
    tag = "time/sec_per_100_G_updates"
    rows = [{"step": 5, "tag": tag, "value": 100.0},   # warm-up: 5 steps
            {"step": 10, "tag": tag, "value": 2.0},    # 5 steps at 2 s / 100
            {"step": 12, "tag": tag, "value": 7.0},    # 2 steps at 7 s / 100
            {"step": 12, "tag": "loss/D", "value": 1.0}]
    assert timed_sec_per_100(rows, warmup=5) == pytest.approx(100 * (0.1 + 0.14) / 7)


@pytest.mark.parametrize("argv, mode, rest", [
    (["--arch", "mlp", "x=1"], None, ["--arch", "mlp", "x=1"]),                       # the norm table
    (["--pairs", "resnet:cifar10", "--throughput", "--steps", "3"], "throughput",     # a flag anywhere, the rest
     ["--pairs", "resnet:cifar10", "--steps", "3"]),                                  # in order
    (["--overhead", "--warmup", "-1"], "overhead", ["--warmup", "-1"]),
    (["--ops", "-h"], "ops", ["-h"]),                                                 # the mode's own --help
    (["--thr", "2"], None, ["--thr", "2"]),                                          # no abbreviations: --threads
])
def test_bench_modes_are_parsed_flags(argv, mode, rest):
    from sngan.commands.bench import mode_parser

    args, left = mode_parser().parse_known_args(argv)
    assert (args.mode, left) == (mode, rest)


def test_bench_takes_one_mode(capsys):
    from sngan.commands.bench import bench

    with pytest.raises(SystemExit) as e:
        bench(["--throughput", "--ops"])
    assert e.value.code == 2 and "not allowed with" in capsys.readouterr().err


def test_bench_cli_table(tmp_path):
    run_cli(["bench", "--arch", "mlp", "--norm", "sn,none", "--steps", "4", "--warmup", "2",
             "--batch-size", "16", "--device", "cpu", "--json", "rows.json"], cwd=tmp_path,
            env={"OMP_NUM_THREADS": "1"})
    rows = json.load(open(tmp_path / "rows.json"))
    assert [(r["arch"], r["norm"]) for r in rows] == [("mlp", "none"), ("mlp", "sn")]  # baseline first
    assert all(r["sec_per_100_G_updates"] > 0 and r["ratio_to_none"] > 0 for r in rows)
    assert all(len(r["sec_per_round"]) == 2 for r in rows)  # two rounds by default
    assert rows[0]["ratio_to_none"] == pytest.approx(1.0)


def test_rounds_reverse_the_order_and_average(monkeypatch):
    import sngan.commands.bench.norms as norms

    calls, seconds = [], iter([1.0, 2.0, 4.0, 3.0, 5.0, 6.0])  # none, sn | sn, none | none, sn

    def fake_cell(row, arch, norm, *rest):
        calls.append(norm)
        return next(seconds), None

    monkeypatch.setattr(norms, "run_cell", fake_cell)
    rows = norms.run_bench(["mlp"], ["none", "sn"], None, 4, 2, 16, "cpu", "C", [], rounds=3)
    assert calls == ["none", "sn", "sn", "none", "none", "sn"]
    none, sn = rows
    assert none["sec_per_round"] == [1.0, 3.0, 5.0] and sn["sec_per_round"] == [2.0, 4.0, 6.0]
    assert sn["ratio_to_none"] == pytest.approx(4.0 / 3.0)


def test_rounds_must_be_positive(capsys):
    from sngan.commands.bench import bench

    with pytest.raises(Exception, match="--rounds must be >= 1|--rounds"):
        bench(["--rounds", "0", "--arch", "mlp"])


@pytest.fixture
def kept_cell_dirs(tmp_path, monkeypatch):
    """The bench cells' run folders, kept under tmp_path instead of deleted (to inspect what they wrote)."""
    import contextlib
    import itertools

    import sngan.commands.bench.cells

    dirs, counter = [], itertools.count()

    @contextlib.contextmanager
    def kept(prefix=""):
        path = tmp_path / f"cell{next(counter)}"
        path.mkdir()
        dirs.append(path)
        yield str(path)

    monkeypatch.setattr(sngan.commands.bench.cells.tempfile, "TemporaryDirectory", kept)
    return dirs


def test_image_cell_runs_without_metrics(kept_cell_dirs, capsys):
    from sngan.commands.bench import bench

    rows = bench(["--arch", "dcgan", "--norm", "none", "--steps", "2", "--warmup", "1", "--batch-size", "8",
                  "--device", "cpu", "--rounds", "1", "arch.g_ch=8", "arch.d_ch=8"])
    assert [(r["arch"], r["dataset"], r["norm"]) for r in rows] == [("dcgan", "digits", "none")]
    assert "error" not in rows[0] and rows[0]["sec_per_100_G_updates"] > 0
    out = capsys.readouterr().out
    assert "sngan train:" not in out and "run folder" not in out  # the cells' own console lines stay quiet
    table = out.splitlines()
    assert any(line.split()[:3] == ["dcgan", "digits", "none"] for line in table[1:])
    (cell,) = kept_cell_dirs
    assert (cell / "scalars.jsonl").exists()           # the cell really trained here ...
    assert not (cell / "metrics.jsonl").exists()       # ... and evaluated no IS/FID/KID


def test_throughput_images_per_s_uses_composed_n_dis(kept_cell_dirs):
    from sngan.commands.bench.throughput import run_throughput

    rows = run_throughput([("mlp", "ring8")], [], steps=2, warmup=1, batch_size=8, device="cpu",
                          extra=["optim.n_dis=3"])
    (row,) = rows
    assert "error" not in row
    assert row["images_per_s"] == pytest.approx(row["G_updates_per_s"] * 8 * 3)


def test_ops_counts_a_g_update_and_grouping_dispatches_fewer_ops(tmp_path, capsys):
    """`sngan bench --ops`: FLOPs agree between SN's two power iterations (same maths), grouping dispatches fewer
    aten ops, and norm=none needs fewer still (SN's cost is counted, not timed)."""
    from sngan.commands.bench.ops import ops

    small = ["batch_size=4", "arch.g_ch=8", "arch.d_ch=8", "optim.n_dis=1"]
    sn = ops(["--arch", "dcgan", "--dataset", "digits", "--device", "cpu", "--warmup", "1",
              "--json", str(tmp_path / "ops.json"), *small])
    per, grouped = sn["per_layer_sn"], sn["grouped_sn"]
    # the same maths; the grouped power iteration multiplies zero-padded matrices, a few more FLOPs for this tiny D
    assert per["flops"] > 0 and per["flops"] <= grouped["flops"] <= 1.1 * per["flops"]
    assert grouped["aten_ops"] < per["aten_ops"]
    assert json.load(open(tmp_path / "ops.json"))["grouped_sn"]["aten_ops"] == grouped["aten_ops"]
    assert "TFLOP" in capsys.readouterr().out
    plain = ops(["--arch", "dcgan", "--dataset", "digits", "--device", "cpu", "--warmup", "1", *small, "norm=none"])
    assert plain["per_layer_sn"]["aten_ops"] < grouped["aten_ops"]


def test_sn_dispatches_at_most_1_3x_the_ops_of_no_norm_on_the_cuda_default_path():
    """The paper's CIFAR-10 ResNet job (n_dis 5, D(real) and D(fake) apart, G batch twice the D batch) with SN's
    power iterations grouped, as on CUDA: at most 1.3x the aten ops per G update of the same job without a norm
    (views left out, an optimizer step counted as the one fused kernel it is on CUDA). Counted, not timed."""
    from sngan.commands.bench.ops import ops

    counted = ops(["--device", "cpu", "--warmup", "1", "batch_size=2", "optim.g_batch_size=4"])
    none, grouped = counted["no_norm"]["aten_ops"], counted["grouped_sn"]["aten_ops"]
    assert grouped <= 1.3 * none, (grouped, none)
    assert counted["per_layer_sn"]["aten_ops"] > grouped


def test_overhead_pairs_run_in_both_orders(monkeypatch, tmp_path):
    """Each pair (bare loop / trainer, no norm / SN) is timed first in one repeat and second in the next; the JSON
    keeps every repeat, the ratio uses the fastest of each."""
    from sngan.commands.bench import overhead as mod

    calls = []
    times = {"bare": [2.0, 1.0], "trainer": [3.0, 2.5], "none": [1.0, 0.8], "sn": [1.2, 1.0]}

    def timed(name):
        calls.append(name)
        return times[name][sum(c == name for c in calls) - 1]

    monkeypatch.setattr(mod, "dataset_overrides", lambda dataset, tmp: ([], "synthetic"))
    monkeypatch.setattr(mod, "cell_overrides", lambda arch, dataset: [])
    monkeypatch.setattr(mod, "bench_config", lambda *a, **k: None)
    monkeypatch.setattr(mod, "bare_loop_sec_per_100", lambda cfg, steps, warmup: timed("bare"))
    monkeypatch.setattr(mod, "bench_one", lambda *a, **k: (timed("trainer"),))
    monkeypatch.setattr(mod, "d_step_seconds", lambda norm, *a: timed(norm))
    result = mod.overhead(["--repeats", "2", "--json", str(tmp_path / "o.json")])
    assert calls == ["bare", "trainer", "none", "sn", "trainer", "bare", "sn", "none"]
    assert result["order_per_repeat"] == ["bare,trainer,none,sn", "trainer,bare,sn,none"]
    assert result["trainer_over_bare"] == pytest.approx(2.5 / 1.0) and result["sn_over_none"] == pytest.approx(1.0 / 0.8)
    assert json.loads((tmp_path / "o.json").read_text())["each_repeat"]["bare_sec_per_100"] == [2.0, 1.0]
