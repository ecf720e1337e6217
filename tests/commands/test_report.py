"""`sngan report`: tables and figures from run folders, hand-made and from a real tiny sweep."""
from __future__ import annotations

import csv
import json
import os

import pytest

from conftest import run_cli
from sngan.errors import UserError
from sngan.commands.report.reader import find_runs

ENV = {"OMP_NUM_THREADS": "1"}  # 2 shared cores: threads fighting each other make runs 100x slower


def fake_run(path, norm, setting, fid, loss="bce"):
    """A run folder as `sngan train` writes it, with made-up numbers."""
    os.makedirs(path)
    (path / "run.yaml").write_text(
        f"norm:\n  name: {norm}\nsetting_name: {setting}\ndataset:\n  name: cifar10\narch:\n  name: dcgan\n"
        f"loss:\n  name: {loss}\noptim:\n  lr: 0.0001\n  beta1: 0.5\n  beta2: 0.9\n  n_dis: 5\n")
    rows = [(10, "time/sec_per_100_G_updates", 9.0), (20, "time/sec_per_100_G_updates", 3.0),
            (20, "sigma_exact/D/fc", 1.5), (20, "sigma/D/fc", 1.4), (20, "metrics/FID", fid + 5),
            (40, "time/sec_per_100_G_updates", 5.0), (40, "sigma_exact/D/fc", 1.2), (40, "metrics/FID", fid)]
    with open(path / "scalars.jsonl", "w") as f:
        for step, tag, value in rows:
            f.write(json.dumps({"step": step, "tag": tag, "value": value}) + "\n")
    (path / "spectra.jsonl").write_text(json.dumps({"step": 40, "norm": norm, "spectra": {"fc": [2.0, 1.0, 0.5]}}) + "\n")
    (path / "metrics.jsonl").write_text(json.dumps({"step": 40, "metrics": {"metrics/FID": fid}, "seconds": 36.0,
                                                    "protocol": {"n_generated": 5000, "reference": "train"}}) + "\n")


def test_report_on_handmade_runs(tmp_path):
    for i, (norm, setting, fid) in enumerate([("none", "A", 50.0), ("sn", "A", 30.0), ("sn", "B", 31.0)]):
        fake_run(tmp_path / "sweep" / str(i), norm, setting, fid)
    runs = find_runs([str(tmp_path / "sweep")])
    assert [(r.norm, r.setting) for r in runs] == [("none", "A"), ("sn", "A"), ("sn", "B")]
    # the warm-up window (9.0) left out; the windows of 10 (3.0) and 20 updates (5.0) weighted by their length
    assert runs[0].sec_per_100() == pytest.approx((3.0 * 10 + 5.0 * 20) / 30)
    assert runs[0].train_seconds() == pytest.approx(9.0 * 0.1 + 3.0 * 0.1 + 5.0 * 0.2)  # every window, warm-up too
    assert runs[1].protocols["metrics/FID"] == "n_generated=5000; reference=train"
    run_cli(["report", str(tmp_path / "sweep"), "--out", str(tmp_path / "out")], cwd=tmp_path, env=ENV)
    rows = list(csv.DictReader(open(tmp_path / "out" / "report.csv")))
    assert [(r["norm"], r["setting"], float(r["metrics/FID"])) for r in rows] == [
        ("none", "A", 50.0), ("sn", "A", 30.0), ("sn", "B", 31.0)]
    md = (tmp_path / "out" / "report.md").read_text()
    assert "| sn | 30 | 31 |" in md and "| none | 50 |  |" in md and "n_generated=5000" in md
    # spectra [2, 1, 0.5]: stable rank (4 + 1 + 0.25) / 4 over 3 singular values
    assert [float(r["spectral_breadth"]) for r in rows] == [pytest.approx(0.4375)] * 3
    assert "spectral breadth" in md and "| sn | 0.4375 | 0.4375 |" in md
    assert [float(r["train_seconds"]) for r in rows] == [pytest.approx(2.2)] * 3
    assert [float(r["eval_seconds"]) for r in rows] == [36.0] * 3
    assert "3 runs (3 finished), 120 G updates; G and D updates 0.00 h, IS/FID/KID evaluations 0.03 h" in md
    assert "Threads: 3 runs with threads not recorded (a GPU, or logged before time/cpu_threads)." in md


def test_wgan_gp_shares_the_figure_and_table_of_the_norms(tmp_path):
    # the paper's Fig. 3 draws WGAN-GP beside the norms trained with the standard loss: one group per
    # dataset and arch, the loss named only where it is not the group's usual one
    cells = [("none", "A", 50.0, "bce"), ("sn", "A", 30.0, "bce"), ("sn", "B", 31.0, "bce"), ("gp", "A", 40.0, "wgan")]
    for i, (norm, setting, fid, loss) in enumerate(cells):
        fake_run(tmp_path / "sweep" / str(i), norm, setting, fid, loss)
    runs = find_runs([str(tmp_path / "sweep")])
    assert {r.group for r in runs} == {"cifar10-dcgan"}
    assert [(r.method, r.setting) for r in runs] == [("none", "A"), ("sn", "A"), ("sn", "B"), ("gp (wgan)", "A")]
    run_cli(["report", str(tmp_path / "sweep"), "--out", str(tmp_path / "out")], cwd=tmp_path, env=ENV)
    md = (tmp_path / "out" / "report.md").read_text()
    assert "| gp (wgan) | 40 |  |" in md and "| sn | 30 | 31 |" in md
    assert os.path.getsize(tmp_path / "out" / "fig2_fid_cifar10-dcgan.png") > 10_000
    assert not os.path.exists(tmp_path / "out" / "fig2_fid_cifar10-dcgan-wgan.png")


def add_scalars(path, rows):
    with open(path / "scalars.jsonl", "a") as f:
        for step, tag, value in rows:
            f.write(json.dumps({"step": step, "tag": tag, "value": value}) + "\n")


def test_std_tags_are_shown_as_spread_of_their_metric(tmp_path, monkeypatch):
    import matplotlib.axes

    from sngan.commands.report.report import metric_tags, write_report

    for i, (setting, is_mean, is_std) in enumerate([("A", 7.0, 0.5), ("B", 6.0, 0.25)]):
        fake_run(tmp_path / "sweep" / str(i), "sn", setting, 30.0 + i)
        add_scalars(tmp_path / "sweep" / str(i), [(20, "metrics/IS", 1.0), (20, "metrics/IS_std", 9.0),
                                                  (40, "metrics/IS", is_mean), (40, "metrics/IS_std", is_std)])
    fake_run(tmp_path / "sweep" / "2", "none", "A", 50.0)
    add_scalars(tmp_path / "sweep" / "2", [(40, "metrics/orphan_std", 2.0)])  # no metrics/orphan: its own metric
    runs = find_runs([str(tmp_path / "sweep")])
    assert metric_tags(runs) == ["metrics/FID", "metrics/IS", "metrics/orphan_std"]

    bars = []
    original = matplotlib.axes.Axes.errorbar

    def recording(ax, x, y, yerr=None, **kwargs):
        bars.append((ax, kwargs.get("label"), list(x), list(y), list(yerr)))
        return original(ax, x, y, yerr=yerr, **kwargs)

    monkeypatch.setattr(matplotlib.axes.Axes, "errorbar", recording)
    write_report(runs, str(tmp_path / "out"), ["sweep"])
    bars = [(ax.get_title(), *rest) for ax, *rest in bars]  # titles are set after the lines are drawn
    md = (tmp_path / "out" / "report.md").read_text()
    assert "### metrics/IS\n" in md and "### metrics/IS_std" not in md
    assert "| sn | 7 ± 0.5 | 6 ± 0.25 |" in md          # the last logged spread, next to the last mean
    assert "| sn | 30 | 31 |" in md                     # FID logs no std: the value alone
    # Fig. 1: one panel per IS metric (none for IS_std), error bars = the logged std of the single run
    is_bars = [(x, y, e) for title, label, x, y, e in bars if title.startswith("metrics/IS ")]
    # sn, the second of two norms, drawn 0.15 right of each setting; (lower, upper): no log axis to clip to
    assert is_bars == [([0.15, 1.15], [7.0, 6.0], [[0.5, 0.25], [0.5, 0.25]])]
    assert not any(title.startswith("metrics/IS_std") for title, *_ in bars)
    rows = list(csv.DictReader(open(tmp_path / "out" / "report.csv")))
    assert [r["metrics/IS_std"] for r in rows] == ["", "0.5", "0.25"]  # the CSV keeps the raw column


def test_report_errors_name_the_fix(tmp_path):
    with pytest.raises(UserError, match="no run folders"):
        find_runs([str(tmp_path)])
    proc = run_cli(["report", str(tmp_path / "missing")], cwd=tmp_path, check=False, env=ENV)
    assert proc.returncode == 2 and "is not a folder" in proc.stderr


@pytest.mark.slow
def test_tiny_sweep_then_report(tmp_path):
    run_cli(["train", "-m", "setting=B,C", "norm=none,sn", "dataset=ring8", "arch=mlp", "train.steps=20",
             "train.log_every=5", "metrics.every.sigma=10", "train.sample_every=20", "train.ckpt_every=20",
             "metrics.every.modes=10", "metrics.modes.num_samples=200", "train.progress=false", "device=cpu",
             "batch_size=32", "hydra.sweep.dir=sweep"], cwd=tmp_path, env=ENV)
    sweep = tmp_path / "sweep" / "ring8"
    jobs = sorted(d for d in os.listdir(sweep) if os.path.isdir(sweep / d))
    # every combination in its own folder, named by what defines it (a rerun of the sweep resumes each)
    # (batch_size=32 changes what is trained: a hash of it ends each name)
    assert [j.rsplit("-", 1)[0] for j in jobs] == ["mlp-bce-none-B-s0", "mlp-bce-none-C-s0", "mlp-bce-sn-B-s0",
                                                   "mlp-bce-sn-C-s0"]
    assert len({j.rsplit("-", 1)[1] for j in jobs}) == 1
    for job in jobs:
        assert (sweep / job / "run.yaml").exists() and not (sweep / job / ".hydra").exists()  # sngan's own record
        assert os.listdir(sweep / job / "tb")
    run_cli(["report", "sweep", "--out", "rep"], cwd=tmp_path, env=ENV)
    out = tmp_path / "rep"
    rows = list(csv.DictReader(open(out / "report.csv")))
    assert sorted((r["norm"], r["setting"]) for r in rows) == [("none", "B"), ("none", "C"), ("sn", "B"), ("sn", "C")]
    for tag in ("metrics/modes", "metrics/high_quality", "metrics/kl_modes"):
        assert all(r[tag] != "" and "3 std" in r[f"{tag} protocol"] for r in rows)
    assert all(float(r["sec_per_100_G_updates"]) > 0 for r in rows)
    group = "ring8-mlp"
    for name in (f"metrics_{group}.png", f"sigma_estimate_{group}.png", f"fig3_spectra_{group}.png",
                 f"fig9_sigma_normalized_{group}_C.png", f"fig10_time_{group}.png", f"samples_{group}_B.png",
                 f"samples_{group}_C.png"):
        assert os.path.getsize(out / name) > 10_000, name  # a drawn figure, not an empty canvas
        assert f"]({name})" in (out / "report.md").read_text()


def seeded_run(path, norm, setting, seed, is_value, fid, spectra_end, spectra_start=(1.0, 1.0, 1.0)):
    """A run with a seed, an IS/FID pair at step 1000, spectra at step 0 and 1000, and sigma(W_bar) per step."""
    fake_run(path, norm, setting, fid)
    with open(path / "run.yaml", "a") as f:
        f.write(f"seed: {seed}\n")
    add_scalars(path, [(1000, "metrics/IS_digits", is_value), (1000, "metrics/FID_digits", fid)]
                + [(step, "sigma_normalized/D/fc", 1.0 + 0.01 * seed + step / 1e5) for step in (0, 500, 1000)])
    (path / "spectra.jsonl").write_text(
        json.dumps({"step": 0, "norm": norm, "spectra": {"fc": list(spectra_start)}}) + "\n"
        + json.dumps({"step": 1000, "norm": norm, "spectra": {"fc": list(spectra_end)}}) + "\n")


def test_seeds_untrained_cells_ranking_and_the_papers_figures(tmp_path, monkeypatch):
    from sngan.commands.report import plots
    from sngan.commands.report.report import write_report

    # sn: trained in C (IS 6, 7) and D (IS 5, 5), untrained in B (IS 1.5); gp: trained in B only
    cells = [("sn", "B", 1.5, 200.0), ("sn", "C", 6.0, 10.0), ("sn", "C", 7.0, 12.0), ("sn", "D", 5.0, 20.0),
             ("sn", "D", 5.0, 22.0), ("gp", "B", 4.0, 15.0), ("gp", "C", 2.0, 150.0)]
    for i, (norm, setting, is_value, fid) in enumerate(cells):
        seeded_run(tmp_path / "sweep" / str(i), norm, setting, i % 2, is_value, fid, (1.0, 0.5, 0.25))
    runs = find_runs([str(tmp_path / "sweep")])
    drawn = {}
    original = plots.fig_spectra

    def spy(runs_, out, group, best):
        drawn["best"] = dict(best)
        return original(runs_, out, group, best)

    monkeypatch.setattr(plots, "fig_spectra", spy)
    figures = write_report(runs, str(tmp_path / "out"), ["sweep"])
    md = (tmp_path / "out" / "report.md").read_text()
    rows = list(csv.DictReader(open(tmp_path / "out" / "report.csv")))
    assert sorted({r["seed"] for r in rows}) == ["0", "1"]
    # mean ± std over seeds; the failing cells marked with their length and kept out of the ranking
    assert "6.5 ± 0.71 (n=2)" in md
    assert "1.5 (not trained at 1000)" in md and "2 (not trained at 1000)" in md
    assert "| sn | 2 of 3 | C | 11 ± 1.4 (n=2) | 16 |" in md   # best trained FID cell, mean over C and D only
    assert "| gp | 1 of 2 | B | 15 | 15 |" in md
    assert md.index("| sn | 2 of 3 |") < md.index("| gp | 1 of 2 |")  # ranked by the best cell's FID
    assert drawn["best"] == {"sn": "C", "gp": "B"}  # Fig. 3: each norm at its best trained setting
    # breadth at step 0 (flat init spectra: 1.0) next to the end ((1 + 0.25 + 0.0625) / 3)
    assert [float(r["spectral_breadth_step0"]) for r in rows] == [1.0] * len(cells)
    assert "At step 0:" in md and "| sn | 1 (n=2) |" not in md and "| sn | 1 | 1 ± 0 (n=2) | 1 ± 0 (n=2) |" in md
    names = set(figures["cifar10-dcgan"])
    assert {"fig1_inception_score_cifar10-dcgan.png", "fig2_fid_cifar10-dcgan.png", "fig3_spectra_cifar10-dcgan.png",
            "fig9_sigma_normalized_cifar10-dcgan_C.png", "sigma_estimate_cifar10-dcgan.png",
            "fig10_time_cifar10-dcgan.png"} <= names


def test_a_cell_is_trained_when_most_of_its_runs_are(tmp_path):
    """Each run is judged on its own final values; one lucky seed does not make a cell trained (C: IS 10, 2, 2 has a
    mean of 4.7 but one trained run of 3), one unlucky seed does not fail it (D: 4, 4, 1)."""
    cells = [("sn", "C", 10.0), ("sn", "C", 2.0), ("sn", "C", 2.0), ("sn", "D", 4.0), ("sn", "D", 4.0),
             ("sn", "D", 1.0), ("sn", "E", 5.0), ("sn", "E", 6.0)]
    for i, (norm, setting, is_value) in enumerate(cells):
        seeded_run(tmp_path / "sweep" / str(i), norm, setting, i, is_value, 10.0 + i, (1.0, 0.5, 0.25))
    write_report_for(tmp_path)
    md = (tmp_path / "out" / "report.md").read_text()
    table = md[md.index("### metrics/IS_digits"):md.index("### metrics/IS_digits") + 2000]
    row = next(line for line in table.splitlines() if line.startswith("| sn |"))
    assert row == ("| sn | 4.667 ± 4.6 (n=3) (not trained at 1000: 1 of 3 runs trained) | "
                   "3 ± 1.7 (n=3) (2 of 3 runs trained) | 5.5 ± 0.71 (n=2) |")
    assert "| sn | 2 of 3 | D |" in md  # ranked at its best trained cell; C is out


def test_unfinished_runs_are_notes_not_final_values(tmp_path):
    """A sweep read while it runs (or after it was stopped): a run short of its train.steps shows how far it got and
    stays out of the means, the ranking and the figures; its finished neighbours are reported as usual."""
    from sngan.commands.report.report import write_report

    cells = [("sn", "C", 0, 7.0, 10.0, 1000), ("sn", "C", 1, 6.0, 12.0, 1000), ("sn", "C", 2, 1.0, 400.0, 4000),
             ("none", "C", 0, 5.0, 30.0, 4000), ("wn", "C", 0, 6.0, 20.0, 1000)]
    for i, (norm, setting, seed, is_value, fid, planned) in enumerate(cells):
        seeded_run(tmp_path / "sweep" / str(i), norm, setting, seed, is_value, fid, (1.0, 0.5, 0.25))
        with open(tmp_path / "sweep" / str(i) / "run.yaml", "a") as f:
            f.write(f"train:\n  steps: {planned}\n")
    runs = find_runs([str(tmp_path / "sweep")])
    assert [(r.norm, r.finished) for r in runs] == [("none", False), ("wn", True), ("sn", True), ("sn", True),
                                                    ("sn", False)]
    figures = write_report(runs, str(tmp_path / "out"), ["sweep"])
    md = (tmp_path / "out" / "report.md").read_text()
    assert "3 of 5 runs finished" in md
    assert "| sn | 6.5 ± 0.71 (n=2) (1 unfinished, at 1000 of 4000) |" in md  # seed 2's IS 1.0 is not in the mean
    assert "| none | - (1 unfinished, at 1000 of 4000) |" in md
    assert "(not trained at" not in md  # the unfinished sn seed's IS 1.0 would have failed IS>=3
    ranking = md[md.index("### Ranking"):md.index("### metrics/")]
    assert "| sn | 1 of 1 | C | 11 ± 1.4 (n=2) |" in ranking and "| wn |" in ranking and "| none |" not in ranking
    rows = list(csv.DictReader(open(tmp_path / "out" / "report.csv")))
    assert sorted((r["norm"], r["steps"], r["planned_steps"]) for r in rows) == [
        ("none", "1000", "4000"), ("sn", "1000", "1000"), ("sn", "1000", "1000"), ("sn", "1000", "4000"),
        ("wn", "1000", "1000")]
    assert "fig2_fid_cifar10-dcgan.png" in figures["cifar10-dcgan"]


def test_a_group_with_no_finished_run_says_so(tmp_path):
    seeded_run(tmp_path / "sweep" / "0", "sn", "C", 0, 6.0, 10.0, (1.0, 0.5, 0.25))
    with open(tmp_path / "sweep" / "0" / "run.yaml", "a") as f:
        f.write("train:\n  steps: 4000\n")
    figures = write_report_for(tmp_path)
    md = (tmp_path / "out" / "report.md").read_text()
    assert "No run of this group has finished yet" in md and figures == {"cifar10-dcgan": []}


def look_at_figures(monkeypatch, prefixes, look):
    """Call look(fig, renderer, name) on each report figure whose file name starts with `prefixes`, drawn as it is
    about to be saved (the figure is closed once saved)."""
    from sngan.commands.report import plots

    saving = plots._save

    def spy(fig, out, name):
        if name.startswith(prefixes):
            fig.canvas.draw()
            look(fig, fig.canvas.get_renderer(), name)
        return saving(fig, out, name)

    monkeypatch.setattr(plots, "_save", spy)


def write_report_for(tmp_path):
    from sngan.commands.report.report import write_report

    return write_report(find_runs([str(tmp_path / "sweep")]), str(tmp_path / "out"), ["sweep"])


def test_samples_figure_shows_every_norm_from_one_seed(tmp_path, monkeypatch):
    """samples_<group>_<setting>.png: per norm, the newest sample grid of its lowest-seed run in that setting."""
    import matplotlib.pyplot as plt

    cells = [("sn", "C", 1, 7.0), ("sn", "C", 0, 6.0), ("none", "C", 0, 5.0), ("wc", "C", 0, 1.0), ("sn", "D", 0, 6.0)]
    for i, (norm, setting, seed, is_value) in enumerate(cells):
        path = tmp_path / "sweep" / str(i)
        seeded_run(path, norm, setting, seed, is_value, 10.0, (1.0, 0.5, 0.25))
        os.makedirs(path / "samples")
        for step in (500, 1000):
            plt.imsave(path / "samples" / f"step_{step:09d}.png", [[0.0, 1.0], [1.0, 0.0]], cmap="gray")
    read = []
    original = plt.imread
    monkeypatch.setattr(plt, "imread", lambda p: read.append(p) or original(p))
    figures = write_report_for(tmp_path)
    assert {"samples_cifar10-dcgan_C.png", "samples_cifar10-dcgan_D.png"} <= set(figures["cifar10-dcgan"])
    assert os.path.getsize(tmp_path / "out" / "samples_cifar10-dcgan_C.png") > 5_000
    chosen = [os.path.relpath(p, tmp_path / "sweep") for p in read]
    # setting C: none, wc (untrained, still shown), sn's seed-0 run (folder 1, not seed 1's folder 0); then D
    assert chosen == [os.path.join(i, "samples", "step_000001000.png") for i in ("2", "3", "1", "4")]


def test_a_bad_trained_rule_is_refused(tmp_path):
    fake_run(tmp_path / "sweep" / "0", "sn", "A", 30.0)
    proc = run_cli(["report", str(tmp_path / "sweep"), "--trained", "IS=3"], cwd=tmp_path, check=False, env=ENV)
    assert proc.returncode == 2 and "NAME>=VALUE" in proc.stderr and not (tmp_path / "sweep" / "report").exists()


def test_samples_figure_titles_stay_clear_of_the_images(tmp_path, monkeypatch):
    """Two rows of panels, one with a three-line title ("not trained"): no title may cover another panel's image."""
    import matplotlib.pyplot as plt

    norms = ["none", "wc", "wn", "sn", "gp", "ln", "ortho"]
    for i, norm in enumerate(norms):
        path = tmp_path / "sweep" / str(i)
        seeded_run(path, norm, "C", 0, 1.0 if norm == "wc" else 6.0, 10.0, (1.0, 0.5, 0.25))
        os.makedirs(path / "samples")
        plt.imsave(path / "samples" / "step_000001000.png", [[0.0, 1.0] * 32, [1.0, 0.0] * 32] * 32, cmap="gray")
    overlaps = []

    def check(fig, renderer, name):
        panels = [ax for ax in fig.axes if ax.images]
        assert len(panels) == len(norms)
        for ax in panels:
            title = ax.title.get_window_extent(renderer)
            overlaps.extend((ax.get_title(), other.get_title()) for other in panels
                            if other is not ax and title.overlaps(other.get_window_extent(renderer)))

    look_at_figures(monkeypatch, "samples_", check)
    figures = write_report_for(tmp_path)
    assert "samples_cifar10-dcgan_C.png" in figures["cifar10-dcgan"]
    assert overlaps == []


def test_fig9_windows_dense_measurements_instead_of_sampling_their_jitter():
    """sigma(W_bar) logged every 10 updates, 1.0 at multiples of 300 and 1.1 elsewhere: a 100-update schedule would
    draw a sawtooth touching 1.0 at 300/600/900; the windows draw the level (mostly 1.1) and the range (1.0-1.1)."""
    from sngan.commands.report.plots import FIG9_WINDOWS, _windows

    points = [(0, 1.0)] + [(s, 1.0 if s % 300 == 0 else 1.1) for s in range(10, 1001, 10)]
    second = [(s, v + 0.01) for s, v in points]  # a second seed, 0.01 higher
    drawn = _windows([points, second])
    assert len(drawn) == 1 + FIG9_WINDOWS and drawn[0] == (0, 1.005, 1.0, 1.01)
    assert [x for x, *_ in drawn] == sorted(x for x, *_ in drawn)
    for x, mean, lo, hi in drawn[1:]:
        window = [v for s, v in points + second if s and abs(s - x) < 25]
        assert len(window) == 10 and mean == pytest.approx(sum(window) / 10) and (lo, hi) == (min(window), max(window))
    assert sum(1 for _, mean, _, _ in drawn[1:] if mean < 1.1) == 3  # the windows holding 300, 600, 900
    assert _windows([[(0, 1.0), (100, 1.2)]]) == [(0, 1.0, 1.0, 1.0), (100, 1.2, 1.2, 1.2)]  # sparse logs: each step
    # one seed logged 10 times as often as the other: each seed's own mean counts once
    dense, sparse = [(s, 1.0) for s in range(10, 101, 10)], [(100, 2.0)]
    assert _windows([dense, sparse], windows=1) == [(pytest.approx(650 / 11), 1.5, 1.0, 2.0)]


def test_layer_colours_are_never_a_norms(tmp_path, monkeypatch):
    from sngan.commands.report import plots

    for i, norm in enumerate(["sn", "none", "wc"]):
        seeded_run(tmp_path / "sweep" / str(i), norm, "C", 0, 6.0, 10.0, (1.0, 0.5, 0.25))
        add_scalars(tmp_path / "sweep" / str(i), [(step, f"sigma_normalized/D/main.{k:02d}", 1.0)
                                                  for step in (0, 500, 1000) for k in range(8)]
                    + [(step, "sigma_exact/D/main.00", 2.0) for step in (0, 1000)])
    import matplotlib.colors

    colours = []
    look_at_figures(monkeypatch, ("fig9_", "sigma_estimate_"), lambda fig, renderer, name: colours.extend(
        (name, matplotlib.colors.to_hex(line.get_color())) for ax in fig.axes for line in ax.lines))
    write_report_for(tmp_path)
    assert {name for name, _ in colours} == {"fig9_sigma_normalized_cifar10-dcgan_C.png",
                                             "sigma_estimate_cifar10-dcgan.png"}
    norm_colours = {matplotlib.colors.to_hex(c) for c in plots.NORM_COLORS.values()}
    assert not {c for _, c in colours} & norm_colours


def test_class_shares_per_norm_and_protocols_shown_once(tmp_path):
    """The share of each class (the last class-coverage record of metrics.jsonl), mean ± std over seeds per norm; a
    protocol item measured per run (memorization's generated_nn_median) is named once, not repeated per run."""
    shares = {("sn", 0): [0.1] * 10, ("sn", 1): [0.12] + [0.0977777] * 9, ("wc", 0): [0.91] + [0.01] * 9}
    for i, ((norm, seed), values) in enumerate(shares.items()):
        path = tmp_path / "sweep" / str(i)
        fake_run(path, norm, "C", 30.0)
        add_scalars(path, [(20, "metrics/class_kl", 1.0), (40, "metrics/class_kl", 0.5)])
        with open(path / "run.yaml", "a") as f:
            f.write(f"seed: {seed}\n")
        with open(path / "metrics.jsonl", "a") as f:
            f.write(json.dumps({"step": 20, "class_shares": [0.5] * 10, "metrics": {"metrics/class_kl": 1.0}}) + "\n")
            f.write(json.dumps({"step": 40, "class_shares": values, "metrics": {"metrics/class_kl": 0.5},
                                "protocol": {"memorization": {"generated": 2000, "generated_nn_median": 3.0 + i},
                                             "generator": "G_ema"}}) + "\n")
    write_report_for(tmp_path)
    md = (tmp_path / "out" / "report.md").read_text()
    assert "| norm | airplane | automobile | bird |" in md  # cifar10's label order
    assert "| sn (n=2) | 11.0 ± 1.4 | 9.9 ± 0.2 |" in md and "| wc (n=1) | 91.0 | 1.0 |" in md
    section = md.split("### metrics/class_kl")[1].split("###")[0]
    assert section.count("memorization.generated=2000") == 1
    assert "differs between runs (report.csv): memorization.generated_nn_median" in section


def test_error_bars_stop_at_the_metrics_range_and_an_off_axis_real_value_stays_in_the_legend(tmp_path, monkeypatch):
    import matplotlib.axes

    for i, (hq, kid) in enumerate([(0.9, 100.0), (0.1, 300.0)]):
        path = tmp_path / "sweep" / str(i)
        fake_run(path, "sn", "C", 30.0)
        with open(path / "run.yaml", "a") as f:
            f.write(f"seed: {i}\n")
        add_scalars(path, [(40, "metrics/high_quality", hq), (40, "metrics/KID", kid)])
        with open(path / "metrics.jsonl", "a") as f:
            f.write(json.dumps({"step": 40, "metrics": {"metrics/KID": kid}, "real": {"metrics/KID": -29.0}}) + "\n")
    bars, legends = [], []
    original = matplotlib.axes.Axes.errorbar
    monkeypatch.setattr(matplotlib.axes.Axes, "errorbar",
                        lambda ax, x, y, yerr=None, **kw: bars.append((list(y), [list(e) for e in yerr]))
                        or original(ax, x, y, yerr=yerr, **kw))
    look_at_figures(monkeypatch, "", lambda fig, renderer, name: legends.extend(
        t.get_text() for legend in fig.legends for t in legend.get_texts()))
    write_report_for(tmp_path)
    # high_quality 0.9 and 0.1: mean 0.5, std 0.57; the bars stop at 0 and 1
    assert ([pytest.approx(0.5)], [[pytest.approx(0.5)], [pytest.approx(0.5)]]) in bars
    # KID 100 and 300 (std 141) on a log axis: bars of the std, above zero already
    assert ([200.0], [[pytest.approx(141.42, rel=1e-3)], [pytest.approx(141.42, rel=1e-3)]]) in bars
    assert "real data: -29 (not on the log axis)" in legends


def test_layers_take_the_papers_names():
    from sngan.commands.report.reader import paper_layer_names

    convs = [f"main.{i:02d}" for i in (0, 2, 4, 6, 8, 10, 12)]  # the standard CNN's D: 7 convs, then fc
    assert paper_layer_names(convs + ["fc"], "dcgan") == {**{c: f"conv{i}" for i, c in enumerate(convs, 1)}, "fc": "fc"}
    assert paper_layer_names(["main.00", "main.02", "main.04"], "mlp") == {
        "main.00": "layer1", "main.02": "layer2", "main.04": "layer3"}
    assert paper_layer_names(["blocks.0.conv1"], "resnet") == {"blocks.0.conv1": "blocks.0.conv1"}


def test_no_line_runs_through_an_untrained_cell_and_the_legend_sits_outside_every_panel(tmp_path, monkeypatch):
    # sn: trained in A and C (IS 6), untrained in B (IS 1.5): its IS line must break at B
    for i, (setting, is_value) in enumerate([("A", 6.0), ("B", 1.5), ("C", 6.0)]):
        seeded_run(tmp_path / "sweep" / str(i), "sn", setting, 0, is_value, 10.0, (1.0, 0.5, 0.25))
    checked = []

    def check(fig, renderer, name):
        (ax,) = [a for a in fig.axes if a.lines]
        (line,) = [ln for ln in ax.lines if ln.get_label() == "sn"]
        ys = list(line.get_ydata())
        checked.append([y != y for y in ys])  # NaN where the line is broken
        legend = fig.legends[0].get_window_extent(renderer)
        checked.append(any(legend.overlaps(a.get_window_extent(renderer)) for a in fig.axes if a.get_visible()))

    look_at_figures(monkeypatch, "fig1_", check)
    write_report_for(tmp_path)
    assert checked == [[False, True, False], False]


def test_fig3_matches_layers_by_the_papers_name_not_the_module_path(tmp_path, monkeypatch):
    """LN adds modules to D, so its third conv is main.05 where SN's is main.04: the conv3 panel holds both."""
    layouts = {"sn": ["main.00", "main.02", "main.04"], "ln": ["main.00", "main.02", "main.05"]}
    for i, (norm, layers) in enumerate(layouts.items()):
        path = tmp_path / "sweep" / str(i)
        seeded_run(path, norm, "C", 0, 6.0, 10.0, (1.0, 0.5))
        spectra = {layer: [1.0, 0.5 + 0.1 * k + 0.01 * i, 0.1] for k, layer in enumerate(layers)}
        (path / "spectra.jsonl").write_text(json.dumps({"step": 1000, "norm": norm, "spectra": spectra}) + "\n")
    panels = {}

    def keep(fig, renderer, name):
        for ax in fig.axes:
            if ax.lines:
                panels[ax.get_title()] = {ln.get_label().split(" ")[0]: round(float(ln.get_ydata()[1]), 4)
                                          for ln in ax.lines}

    look_at_figures(monkeypatch, "fig3_", keep)
    write_report_for(tmp_path)
    assert panels == {"conv1": {"sn": 0.25, "ln": 0.2601}, "conv2": {"sn": 0.36, "ln": 0.3721},
                      "conv3": {"sn": 0.49, "ln": 0.5041}}


def test_class_share_tables_keep_runs_with_other_class_counts_apart(tmp_path):
    from sngan.commands.report.class_shares import class_share_tables

    for i, shares in enumerate([[0.5, 0.5], [0.2, 0.3, 0.5], [0.4, 0.6]]):
        path = tmp_path / "sweep" / str(i)
        fake_run(path, "sn", "C", 30.0)
        with open(path / "metrics.jsonl", "a") as f:
            f.write(json.dumps({"step": 40, "class_shares": shares}) + "\n")
    md = "\n".join(class_share_tables(find_runs([str(tmp_path / "sweep")])))
    assert "Setting C, 2 classes (uniform: 50.0 each)" in md and "Setting C, 3 classes (uniform: 33.3 each)" in md
    assert "| sn (n=2) | 45.0 ± 7.1 | 55.0 ± 7.1 |" in md and "| sn (n=1) | 20.0 | 30.0 | 50.0 |" in md


def test_budget_names_the_threads_each_run_logged(tmp_path):
    for i, threads in enumerate([1, 1, 2]):
        fake_run(tmp_path / "sweep" / str(i), "sn", "C", 30.0)
        add_scalars(tmp_path / "sweep" / str(i), [(20, "time/cpu_threads", 4.0), (40, "time/cpu_threads", threads)])
    write_report_for(tmp_path)
    md = (tmp_path / "out" / "report.md").read_text()
    assert "Threads: 2 runs on 1 CPU thread, 1 run on 2 CPU threads." in md
    rows = list(csv.DictReader(open(tmp_path / "out" / "report.csv")))
    assert sorted(r["cpu_threads"] for r in rows) == ["1", "1", "2"]

