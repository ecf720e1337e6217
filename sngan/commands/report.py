"""`sngan report DIR [DIR...] --out OUT`: tables and the paper's figures from finished run folders.

A run folder is any folder holding scalars.jsonl (a `sngan train -m` sweep folder holds one per job).
Each run's config comes from .hydra/config.yaml, else from its newest checkpoint's 'config'.
Writes OUT/report.md, OUT/report.csv and PNG plots (see sngan.commands.plots).
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import statistics

from ..errors import UserError
from ..run.reader import STD_SUFFIX, Run, find_runs, method_key, setting_key

def all_metric_tags(runs: list[Run]) -> list[str]:
    return sorted({tag for r in runs for tag in r.final()})


def metric_tags(runs: list[Run]) -> list[str]:
    """The metrics shown on their own: every tag but the *_std spread of another tag."""
    tags = all_metric_tags(runs)
    return [t for t in tags if not (t.endswith(STD_SUFFIX) and t[:-len(STD_SUFFIX)] in tags)]


def cell(values: list) -> str:
    """One run: its value (± its logged std when it has one); several: mean ± std over the runs (n)."""
    entries = [v if isinstance(v, tuple) else (v, None) for v in values]
    if not entries:
        return ""
    if len(entries) == 1:
        value, std = entries[0]
        return f"{value:.4g}" if std is None else f"{value:.4g} ± {std:.2g}"
    means = [v for v, _ in entries]
    return f"{statistics.fmean(means):.4g} ± {statistics.stdev(means):.2g} (n={len(means)})"


def pivot(runs: list[Run], value) -> tuple[list[str], list[str], dict]:
    """norms x settings -> values of `value(run)` (None skipped; a value or (value, std))."""
    norms = sorted({r.method for r in runs}, key=method_key)
    settings = sorted({r.setting for r in runs}, key=setting_key)
    table = {(n, s): [] for n in norms for s in settings}
    for r in runs:
        v = value(r)
        if v is not None:
            table[(r.method, r.setting)].append(v)
    return norms, settings, table


def markdown_pivot(runs: list[Run], value) -> list[str]:
    norms, settings, table = pivot(runs, value)
    lines = ["| norm \\ setting | " + " | ".join(settings) + " |", "|---" * (len(settings) + 1) + "|"]
    for n in norms:
        lines.append(f"| {n} | " + " | ".join(cell(table[(n, s)]) for s in settings) + " |")
    return lines


CSV_BASE = ["run", "dataset", "arch", "loss", "norm", "setting", "lr", "beta1", "beta2", "n_dis", "steps",
            "sec_per_100_G_updates", "spectral_breadth"]


def csv_rows(runs: list[Run], tags: list[str]) -> tuple[list[str], list[dict]]:
    header = CSV_BASE + tags + [f"{t} protocol" for t in tags]
    rows = []
    for r in runs:
        final = r.final()
        row = {"run": r.path, "dataset": r._get("dataset", "name"), "arch": r._get("arch", "name"),
               "loss": r._get("loss", "name"), "norm": r.norm, "setting": r.setting,
               "lr": r._get("optim", "lr"), "beta1": r._get("optim", "beta1"), "beta2": r._get("optim", "beta2"),
               "n_dis": r._get("optim", "n_dis"), "steps": r.last_step(),
               "sec_per_100_G_updates": "" if r.sec_per_100() is None else f"{r.sec_per_100():.6g}",
               "spectral_breadth": "" if r.spectral_breadth() is None else f"{r.spectral_breadth():.6g}"}
        for t in tags:
            row[t] = f"{final[t][1]:.6g}" if t in final else ""
            row[f"{t} protocol"] = r.protocols.get(t, "")
        rows.append(row)
    return header, rows


def write_report(runs: list[Run], out: str, sources: list[str]) -> dict[str, list[str]]:
    """report.md, report.csv and the plots; returns {group: [plot file names]}."""
    from . import plots

    os.makedirs(out, exist_ok=True)
    tags = metric_tags(runs)
    header, rows = csv_rows(runs, all_metric_tags(runs))  # the CSV keeps the *_std columns as logged
    with open(os.path.join(out, "report.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)

    md = ["# sngan report", "", f"{len(runs)} runs from {', '.join(sources)}.", "",
          "Final value of each metric (last logged) per norm x setting, ± the std it was logged with "
          "(metrics/IS_std, ...); cells with several runs show mean ± std over the runs (n).", ""]
    figures = {}
    for group in sorted({r.group for r in runs}):
        g_runs = [r for r in runs if r.group == group]
        g_tags = metric_tags(g_runs)
        md += [f"## {group} (dataset-arch)", ""]
        for tag in g_tags:
            protocols = sorted({r.protocols[tag] for r in g_runs if tag in r.protocols})
            md += [f"### {tag}", "", "Protocol: " + (" / ".join(protocols) or "unknown"), ""]
            reals = sorted({f"{r.real[tag]:.4g}" for r in g_runs if tag in r.real})
            if reals:
                md += [f"Real data measured the same way (IS of real images; FID/KID of one real half against the "
                       f"other): {' / '.join(reals)}", ""]
            md += markdown_pivot(g_runs, lambda r, t=tag: r.final_with_std(t)) + [""]
        if not g_tags:
            md += ["No metrics/* tags were logged by these runs (enable metrics in training).", ""]
        md += ["### seconds per 100 generator updates (first window left out as warm-up)", ""]
        md += markdown_pivot(g_runs, Run.sec_per_100) + [""]
        if any(r.sigma_normalized() is not None for r in g_runs):
            md += ["### sigma(W_bar) of D's layers over training (the paper's Fig. 9 quantity)", "",
                   "Mean over every sigma report and D layer of |sigma(W_bar) - 1| (W_bar: the weight a layer computes "
                   "with; SN makes its sigma 1 when its power-iteration estimate is exact); below it the largest "
                   "sigma(W_bar) seen.", ""]
            md += markdown_pivot(g_runs, lambda r: None if r.sigma_normalized() is None else r.sigma_normalized()[0])
            md += [""] + markdown_pivot(g_runs, lambda r: None if r.sigma_normalized() is None else r.sigma_normalized()[1])
            md += [""]
        if any(r.spectral_breadth() is not None for r in g_runs):
            md += ["### spectral breadth of D at the last spectra report (Fig. 6 in one number)", "",
                   "Per layer sum_i sigma_i^2 / sigma_1^2 over the number of singular values (1: a flat spectrum, "
                   "1/n: rank one), averaged over D's layers with more than one singular value.", ""]
            md += markdown_pivot(g_runs, Run.spectral_breadth) + [""]
        figures[group] = plots.all_figures(g_runs, g_tags, out, group)
        md += ["### Figures", ""] + [f"![{name}]({name})" for name in figures[group]] + [""]
    md += ["## Runs", "", "| " + " | ".join(CSV_BASE[1:] + tags) + " | run |",
           "|---" * (len(CSV_BASE) + len(tags)) + "|"]
    for run, row in zip(runs, rows):
        values = [cell([run.final_with_std(t)]) if run.final_with_std(t) else "" for t in tags]
        md.append("| " + " | ".join([str(row[k]) for k in CSV_BASE[1:]] + values) + f" | {row['run']} |")
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    return figures


def report(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="sngan report", description=__doc__.split("\n")[0])
    parser.add_argument("dirs", nargs="+", metavar="DIR", help="run folders or `sngan train -m` sweep folders")
    parser.add_argument("--out", default=None, help="output folder (default: DIR/report for one DIR, else ./report)")
    parser.add_argument("--by", default="", help="comma-separated config keys that also label the rows, e.g. "
                                                 "optim.d_forward,norm.warmup_iters (runs differing there kept apart)")
    args = parser.parse_args(argv)
    out = args.out or (os.path.join(args.dirs[0], "report") if len(args.dirs) == 1 else "report")
    runs = find_runs(args.dirs, tuple(k for k in args.by.split(",") if k))
    try:
        figures = write_report(runs, out, args.dirs)
    except OSError as e:
        raise UserError(f"cannot write the report to {out} ({e.strerror}): pass --out PATH to a writable folder")
    n_fig = sum(len(v) for v in figures.values())
    print(json.dumps({"runs": len(runs), "out": os.path.abspath(out), "figures": n_fig}))
