"""`sngan report DIR [DIR...] --out OUT`: tables and the paper's figures from run folders (of a finished sweep, or
of one still running: its unfinished runs are shown as such, not as final values).

A run folder is any folder holding scalars.jsonl (a `sngan train -m` sweep folder holds one per job).
Runs are read back by reader.py (each run's config from its run.yaml, else its newest readable checkpoint,
else .hydra/config.yaml). Writes OUT/report.md and OUT/report.csv (the tables: this module) and PNG figures
(plots.py).
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
from collections import Counter
from dataclasses import dataclass

from ...errors import UserError
from .class_shares import class_share_tables
from .reader import STD_SUFFIX, Run, find_runs, method_key, metric_base, setting_key


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


def markdown_pivot(runs: list[Run], value, notes: dict | None = None,
                   references: dict[str, float] | None = None) -> list[str]:
    """norm x setting table of value(run); `notes` ((method, setting) -> text, e.g. "not trained at 2000") follow
    their cell's value in brackets; `references` (label -> value: what the real data and a trivial generator score)
    are rows of their own, the same in every column."""
    norms, settings, table = pivot(runs, value)
    notes = notes or {}

    def show(n, s):
        text = cell(table[(n, s)])
        if (n, s) not in notes:
            return text
        return f"{text or '-'} ({notes[(n, s)]})"

    lines = ["| norm \\ setting | " + " | ".join(settings) + " |", "|---" * (len(settings) + 1) + "|"]
    for n in norms:
        lines.append(f"| {n} | " + " | ".join(show(n, s) for s in settings) + " |")
    for label, ref in (references or {}).items():
        lines.append(f"| *{label} (reference)* | " + " | ".join(f"*{ref:.4g}*" for _ in settings) + " |")
    return lines


def protocol_line(runs: list[Run], tag: str) -> str:
    """How tag's numbers were made: the protocol items every run shares, once, and the names of those that differ
    between runs (a value measured per run, e.g. memorization's generated_nn_median; each run's own is in report.csv's
    "<tag> protocol" column)."""
    items = [r.protocol_items[tag] for r in runs if tag in r.protocol_items]
    if not items:
        return " / ".join(sorted({r.protocols[tag] for r in runs if tag in r.protocols})) or "unknown"
    shared = {k: v for k, v in items[0].items() if all(i.get(k) == v for i in items[1:])}
    differ = sorted(set().union(*items) - set(shared))
    parts = [f"{k}={v}" for k, v in shared.items()]
    return "; ".join(parts + ([f"differs between runs (report.csv): {', '.join(differ)}"] if differ else []))


def finished_only(value):
    """value(run) for a run that reached its train.steps, None (left out) for one still running or stopped."""
    return lambda r: value(r) if r.finished else None


def cell_notes(runs: list[Run], verdicts: dict) -> dict[tuple[str, str], str]:
    """(method, setting) -> "not trained at N: k of n runs trained", "k of n runs trained" and/or "k unfinished, at N of
    M" (its unfinished runs' last steps)."""
    notes = {cell: [v.note()] for cell, v in verdicts.items() if v.note()}
    for key in sorted({(r.method, r.setting) for r in runs if not r.finished}):
        waiting = [r for r in runs if (r.method, r.setting) == key and not r.finished]
        steps = ", ".join(str(r.last_step()) for r in waiting)
        planned = "/".join(sorted({str(r.planned_steps()) for r in waiting}))
        notes.setdefault(key, []).append(f"{len(waiting)} unfinished, at {steps} of {planned}")
    return {key: "; ".join(texts) for key, texts in notes.items()}


# ---- which cells trained, and the ranking of the trained ones ---------------------------------------------

# IS: at least 3 effective classes; 2-D: more high-quality samples than one Gaussian fitted to the mixture gets (a
# collapsed but sharp G passes, a blob covering the plane does not)
DEFAULT_TRAINED = "IS>=3,high_quality>gaussian"
GAUSSIAN = "one Gaussian"  # the 2-D reference a rule's `gaussian` stands for (metrics.modes.reference_rows)
OPS = {">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, "<": lambda a, b: a < b}


def parse_rules(text: str) -> list[tuple[str, str, float | str]]:
    """'IS>=3,high_quality>gaussian' -> [(metric base name, op, threshold or 'gaussian')]."""
    rules = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        op = next((o for o in OPS if o in part), None)
        if op is None:
            raise UserError(f"--trained takes NAME>=VALUE, NAME>VALUE, NAME<=VALUE or NAME<VALUE items (VALUE a number, "
                            f"or gaussian for the 2-D one-Gaussian reference), got '{part}': e.g. --trained IS>=3")
        name, value = (x.strip() for x in part.split(op, 1))
        if value == "gaussian":
            rules.append((name, op, value))
            continue
        try:
            rules.append((name, op, float(value)))
        except ValueError:
            raise UserError(f"--trained: '{value}' is neither a number nor gaussian in '{part}': e.g. --trained "
                            f"IS>=3") from None
    return rules


def run_trained(run: Run, tags: list[str], rules, gaussian: dict[str, float]) -> bool | None:
    """Whether one run's final values meet every rule on its logged tags (a rule against `gaussian` compares with the
    one-Gaussian reference of that tag, where the group has 2-D references); None when no rule applies."""
    final, verdicts = run.final(), []
    for tag in tags:
        if tag not in final:
            continue
        for base, op, threshold in rules:
            if base != metric_base(tag):
                continue
            if threshold == "gaussian":
                if tag not in gaussian:
                    continue
                threshold = gaussian[tag]
            verdicts.append(OPS[op](final[tag][1], threshold))
    return all(verdicts) if verdicts else None


@dataclass
class CellVerdict:
    passed: int  # runs of the cell that meet every rule
    judged: int  # runs a rule applies to
    step: int    # the cell's G updates (its runs' last step)

    @property
    def trained(self) -> bool:
        return 2 * self.passed > self.judged  # most of its runs, so one lucky or unlucky seed does not decide

    def note(self) -> str:
        share = f"{self.passed} of {self.judged} runs" if self.judged > 1 else ""
        if not self.trained:
            return f"not trained at {self.step}" + (f": {share} trained" if share else "")
        return f"{share} trained" if self.passed < self.judged else ""


def cell_verdicts(runs: list[Run], tags: list[str], rules, references: dict | None = None
                  ) -> dict[tuple[str, str], CellVerdict]:
    """(method, setting) -> how many of its runs count as trained (run_trained), for every cell a rule applies to."""
    gaussian = (references or {}).get(GAUSSIAN, {})
    out = {}
    for key in {(r.method, r.setting) for r in runs}:
        cell_runs = [r for r in runs if (r.method, r.setting) == key]
        judged = [v for v in (run_trained(r, tags, rules, gaussian) for r in cell_runs) if v is not None]
        if judged:
            out[key] = CellVerdict(sum(judged), len(judged), max(r.last_step() for r in cell_runs))
    return out


def point_references(runs: list[Run]) -> dict[str, dict[str, float]]:
    """For a 2-D group: what the real mixture and one Gaussian fitted to it score under the runs' mode-metric
    protocol (metrics.modes.num_samples, min_count); {} for image groups."""
    first = runs[0]
    if not first.dataset.points:
        return {}
    from ...data.points import mixture
    from ...metrics.modes import reference_rows

    modes = first.config["metrics"]["modes"]
    return reference_rows(mixture(first.dataset.name), int(modes["num_samples"]), int(modes["min_count"]))


def primary_tag(tags: list[str]) -> tuple[str, bool] | None:
    """The metric that ranks (FID, else IS, else kl_modes, else the first), and whether lower is better."""
    for base, lower in (("FID", True), ("IS", False), ("kl_modes", True)):
        found = [t for t in tags if metric_base(t) == base]
        if found:
            return found[0], lower
    return (tags[0], False) if tags else None


def ranking(runs: list[Run], tags: list[str], untrained: dict) -> tuple[list[str], dict[str, str]]:
    """Markdown rows ranking the norms by their best trained cell (the paper's Table 2 reports each method at
    its best setting), and norm -> best setting."""
    primary = primary_tag(tags)
    if primary is None:
        return [], {}
    tag, lower = primary
    norms, settings, table = pivot(runs, lambda r: r.final()[tag][1] if tag in r.final() else None)
    rows, best = [], {}
    for n in norms:
        trained = {s: table[(n, s)] for s in settings if table[(n, s)] and (n, s) not in untrained}
        if not trained:
            rows.append((float("inf"), f"| {n} | 0 of {sum(1 for s in settings if table[(n, s)])} | - | - | - |"))
            continue
        means = {s: statistics.fmean(v) for s, v in trained.items()}
        s_best = (min if lower else max)(means, key=means.get)
        best[n] = s_best
        over = statistics.fmean(means.values())
        rows.append(((means[s_best] if lower else -means[s_best]),
                     f"| {n} | {len(trained)} of {sum(1 for s in settings if table[(n, s)])} | {s_best} | "
                     f"{cell(trained[s_best])} | {over:.4g} |"))
    head = [f"Ranked by the best trained cell's mean {tag} ({'lower' if lower else 'higher'} is better); cells "
            f"marked \"not trained\" are left out of every column.", "",
            f"| norm | trained settings | best setting | {tag} there | mean over its trained settings |",
            "|---|---|---|---|---|"]
    return head + [row for _, row in sorted(rows, key=lambda item: item[0])], best


CSV_BASE = ["run", "dataset", "arch", "loss", "norm", "setting", "seed", "lr", "beta1", "beta2", "n_dis", "steps",
            "planned_steps", "sec_per_100_G_updates", "train_seconds", "eval_seconds", "cpu_threads",
            "spectral_breadth_step0",
            "spectral_breadth"]


def _num(value) -> str:
    return "" if value is None else f"{value:.6g}"


def csv_rows(runs: list[Run], tags: list[str]) -> tuple[list[str], list[dict]]:
    header = CSV_BASE + tags + [f"{t} protocol" for t in tags]
    rows = []
    for r in runs:
        final = r.final()
        row = {"run": r.path, "dataset": r._get("dataset", "name"), "arch": r._get("arch", "name"),
               "loss": r._get("loss", "name"), "norm": r.norm, "setting": r.setting, "seed": r.seed,
               "lr": r._get("optim", "lr"), "beta1": r._get("optim", "beta1"), "beta2": r._get("optim", "beta2"),
               "n_dis": r._get("optim", "n_dis"), "steps": r.last_step(),
               "planned_steps": "" if r.planned_steps() is None else r.planned_steps(),
               "sec_per_100_G_updates": _num(r.sec_per_100()),
               "train_seconds": _num(r.train_seconds()), "eval_seconds": _num(r.eval_seconds),
               "cpu_threads": "" if r.cpu_threads() is None else r.cpu_threads(),
               "spectral_breadth_step0": _num(r.spectral_breadth(at_start=True)),
               "spectral_breadth": _num(r.spectral_breadth())}
        for t in tags:
            row[t] = f"{final[t][1]:.6g}" if t in final else ""
            row[f"{t} protocol"] = r.protocols.get(t, "")
        rows.append(row)
    return header, rows


def budget(runs: list[Run]) -> list[str]:
    """What the group's numbers cost: runs, G updates, and the time of training and of IS/FID/KID, summed over the runs
    (each run's own clock: runs side by side overlap in wall time, and each ran with its own threads)."""
    done = sum(r.finished for r in runs)
    updates = sum(r.last_step() for r in runs)
    train_h = sum(r.train_seconds() for r in runs) / 3600
    eval_h = sum(r.eval_seconds for r in runs) / 3600
    threads = Counter(r.cpu_threads() for r in runs)
    on = ", ".join(f"{n} run{'s' if n > 1 else ''} " + ("with threads not recorded (a GPU, or logged before "
                                                      "time/cpu_threads)" if t is None else
                                                      f"on {t} CPU thread" + ("s" if t > 1 else ""))
                   for t, n in sorted(threads.items(), key=lambda item: (item[0] is None, item[0] or 0)))
    return ["### Budget", "",
            f"{len(runs)} runs ({done} finished), {updates:,} G updates; G and D updates {train_h:.2f} h, IS/FID/KID "
            f"evaluations {eval_h:.2f} h, summed over the runs (each run's own clock; runs side by side share the "
            f"wall time). Threads: {on}. Per run: report.csv train_seconds, eval_seconds, cpu_threads.", ""]


def write_report(runs: list[Run], out: str, sources: list[str], trained: str = DEFAULT_TRAINED) -> dict[str, list[str]]:
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
          "(metrics/IS_std, ...); cells with several runs (seeds) show mean ± std over the runs (n). A run is trained "
          f"when its final values meet every rule of `--trained {trained}`, a cell when more than half of its runs "
          "are; any other cell is \"not trained at N\" (N: its G updates; with k of n runs trained), stays in the "
          "tables, marked, and out of every ranking and of Fig. 3; a trained cell with runs that are not says \"k of "
          "n runs trained\". A run that has not reached its "
          "train.steps (a sweep still running, or stopped) is unfinished: its last values are not final, so it is "
          "only a note in its cell (\"k unfinished, at N of M\") and a row of the Runs table.", ""]
    rules = parse_rules(trained)
    figures = {}
    for group in sorted({r.group for r in runs}):
        g_runs = [r for r in runs if r.group == group]
        done = [r for r in g_runs if r.finished]  # the numbers, rankings and figures; unfinished runs are notes
        g_tags = metric_tags(done)
        md += [f"## {group} (dataset-arch)", ""]
        if len(done) < len(g_runs):
            md += [f"{len(done)} of {len(g_runs)} runs finished; the cells of the others say how far they got.", ""]
        references = point_references(g_runs)
        verdicts = cell_verdicts(done, g_tags, rules, references)
        untrained = {cell: v.step for cell, v in verdicts.items() if not v.trained}
        notes = cell_notes(g_runs, verdicts)
        ranked, best = ranking(done, g_tags, untrained)
        if ranked:
            md += ["### Ranking (trained cells only)", ""] + ranked + [""]
        for tag in g_tags:
            md += [f"### {tag}", "", "Protocol: " + protocol_line(done, tag), ""]
            reals = sorted({f"{r.real[tag]:.4g}" for r in done if tag in r.real})
            if reals:
                md += [f"Real data measured the same way (IS of real images; FID/KID of one real half against the "
                       f"other): {' / '.join(reals)}", ""]
            refs = {label: values[tag] for label, values in references.items() if tag in values}
            if refs:
                md += [f"Reference rows: {len(refs)} rows of what the real mixture and one Gaussian fitted to it (its "
                       f"mean and covariance: a blob with no mode) score under the same protocol; a cell counts as "
                       f"trained only when its high-quality share beats the Gaussian's.", ""]
            md += markdown_pivot(g_runs, finished_only(lambda r, t=tag: r.final_with_std(t)), notes, refs) + [""]
        if not g_tags:
            md += ["No metrics/* tags were logged by these runs (enable metrics in training)." if done else
                   "No run of this group has finished yet: see the Runs table for how far each got.", ""]
        md += class_share_tables(g_runs, notes)
        md += ["### seconds per 100 generator updates (first window left out as warm-up; unfinished runs included)",
               ""]
        md += markdown_pivot(g_runs, Run.sec_per_100) + [""]
        if any(r.sigma_normalized() is not None for r in done):
            md += ["### sigma(W_bar) of D's layers over training (the paper's Fig. 9 quantity)", "",
                   "Mean over every sigma(W_bar) measurement (metrics.every.sigma_normalized) and D layer of "
                   "|sigma(W_bar) - 1| (W_bar: the weight a layer computes "
                   "with; SN makes its sigma 1 when its power-iteration estimate is exact); below it the largest "
                   "sigma(W_bar) seen.", ""]
            sigma = finished_only(Run.sigma_normalized)
            md += markdown_pivot(g_runs, lambda r: None if sigma(r) is None else sigma(r)[0], notes)
            md += [""] + markdown_pivot(g_runs, lambda r: None if sigma(r) is None else sigma(r)[1], notes)
            md += [""]
        if any(r.spectral_breadth() is not None for r in done):
            md += ["### spectral breadth of D (the paper's Fig. 3 in one number)", "",
                   "Per layer sum_i sigma_i^2 / sigma_1^2 over the number of singular values of the normalized weight "
                   "(1: a flat spectrum, 1/n: rank one), averaged over D's layers with more than one singular value: "
                   "first at step 0 (the initialization every run starts from), then at the last spectra report. "
                   "Compare trained cells: an untrained D keeps its initial breadth.", ""]
            if any(r.spectral_breadth(at_start=True) is not None for r in g_runs):
                md += ["At step 0:", ""] + markdown_pivot(g_runs, lambda r: r.spectral_breadth(at_start=True)) + [""]
            md += ["At the end:", ""] + markdown_pivot(g_runs, finished_only(Run.spectral_breadth), notes) + [""]
        by_tag = {}
        for label, values in references.items():
            for tag, value in values.items():
                by_tag.setdefault(tag, {})[label] = value
        md += budget(g_runs)
        figures[group] = plots.all_figures(done, g_tags, out, group, best or None, frozenset(untrained),
                                           by_tag) if done else []
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
    parser = argparse.ArgumentParser(prog="sngan report", description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("dirs", nargs="+", metavar="DIR", help="run folders or `sngan train -m` sweep folders")
    parser.add_argument("--out", default=None, help="output folder (default: DIR/report for one DIR, else ./report)")
    parser.add_argument("--trained", default=DEFAULT_TRAINED,
                        help="rules a cell's mean final metric must meet to count as trained, by metric name "
                             "(IS covers IS_digits, ...): default %(default)s")
    parser.add_argument("--by", default="", help="comma-separated config keys that also label the rows, e.g. "
                                                 "optim.d_forward,norm.warmup_iters (runs differing there kept apart)")
    args = parser.parse_args(argv)
    out = args.out or (os.path.join(args.dirs[0], "report") if len(args.dirs) == 1 else "report")
    parse_rules(args.trained)  # a bad rule is refused before any folder is read
    runs = find_runs(args.dirs, tuple(k for k in args.by.split(",") if k))
    try:
        figures = write_report(runs, out, args.dirs, args.trained)
    except OSError as e:
        raise UserError(f"cannot write the report to {out} ({e.strerror}): pass --out PATH to a writable folder")
    n_fig = sum(len(v) for v in figures.values())
    print(json.dumps({"runs": len(runs), "out": os.path.abspath(out), "figures": n_fig}))
