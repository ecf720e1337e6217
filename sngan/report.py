"""`sngan report DIR [DIR...] --out OUT`: tables and the paper's figures from finished run folders.

A run folder is any folder holding scalars.jsonl (a `sngan train -m` sweep folder holds one per job).
Each run's config comes from .hydra/config.yaml, else from its newest checkpoint's 'config'.
Writes OUT/report.md, OUT/report.csv and PNG plots (see sngan.plots).
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
from dataclasses import dataclass, field

from .errors import UserError
from .logger import last_values, read_scalars

SETTING_ORDER = ["A", "B", "C", "D", "E", "F"]
NORM_ORDER = ["none", "wc", "wn", "sn"]
TIME_TAG = "time/sec_per_100_G_updates"
STD_SUFFIX = "_std"  # metrics/IS_std is the spread of metrics/IS: shown as ± next to it, not on its own


@dataclass
class Run:
    path: str
    config: dict
    scalars: list[dict]
    spectra: dict | None = None          # the last record of spectra.jsonl
    protocols: dict = field(default_factory=dict)  # metric tag -> protocol text

    def _get(self, *keys, default=""):
        node = self.config
        for k in keys:
            if not isinstance(node, dict) or k not in node:
                return default
            node = node[k]
        return node

    @property
    def norm(self) -> str:
        return str(self._get("norm", "name"))

    @property
    def setting(self) -> str:
        return str(self._get("setting_name"))

    @property
    def group(self) -> str:
        """Runs comparable in one table: same dataset, arch and loss."""
        return "-".join(str(self._get(k, "name")) for k in ("dataset", "arch", "loss"))

    def series(self, tag: str) -> list[tuple[int, float]]:
        return [(r["step"], r["value"]) for r in self.scalars if r["tag"] == tag]

    def series_tags(self, prefix: str) -> list[str]:
        """The names after `prefix` of the tags that start with it, in first-logged order."""
        return list(dict.fromkeys(r["tag"][len(prefix):] for r in self.scalars if r["tag"].startswith(prefix)))

    def final(self) -> dict[str, tuple[int, float]]:
        """Last (step, value) of every metrics/* tag (the *_std ones included)."""
        return last_values(self.scalars, "metrics/")

    def final_with_std(self, tag: str) -> tuple[float, float | None] | None:
        """(last value of tag, last value of tag_std or None), or None when tag was never logged."""
        final = self.final()
        if tag not in final:
            return None
        std = final.get(tag + STD_SUFFIX)
        return final[tag][1], (std[1] if std else None)

    def sec_per_100(self) -> float | None:
        """Mean seconds per 100 G updates, the first window (warm-up) left out when there are others."""
        values = [v for _, v in self.series(TIME_TAG)]
        values = values[1:] if len(values) > 1 else values
        return statistics.fmean(values) if values else None

    def last_step(self) -> int:
        return max((r["step"] for r in self.scalars), default=0)


def _load_config(run_dir: str) -> dict | None:
    hydra_cfg = os.path.join(run_dir, ".hydra", "config.yaml")
    if os.path.exists(hydra_cfg):
        from omegaconf import OmegaConf

        # unresolved: run_dir refers to ${hydra:...}, which only resolves inside a Hydra run
        return OmegaConf.to_container(OmegaConf.load(hydra_cfg), resolve=False)
    ckpt_dir = os.path.join(run_dir, "checkpoints")
    if os.path.isdir(ckpt_dir):
        import torch

        for name in sorted(os.listdir(ckpt_dir), reverse=True):
            if name.endswith(".pt"):
                try:
                    return torch.load(os.path.join(ckpt_dir, name), map_location="cpu", weights_only=True)["config"]
                except Exception:  # a torn checkpoint: try the older one
                    continue
    return None


def _read_jsonl(path: str) -> list[dict]:
    return read_scalars(path) if os.path.exists(path) else []


def _protocol_text(protocol) -> str:
    if isinstance(protocol, dict):
        return "; ".join(f"{k}={v}" for k, v in protocol.items())
    return str(protocol)


def _protocols(run_dir: str, config: dict, final: dict) -> dict[str, str]:
    """Per metric tag, how its number was made: metrics.jsonl's protocol records where there are any,
    the 2-D benchmark's definition for its metrics, else the tag and step it was read from."""
    out = {}
    for rec in _read_jsonl(os.path.join(run_dir, "metrics.jsonl")):
        if "protocol" not in rec:
            continue
        text = _protocol_text(rec["protocol"])
        for tag in rec.get("metrics") or {}:  # sngan.metrics.hook: {"step", "metrics": {tag: value}, "protocol"}
            out[tag] = text
    dataset = config.get("dataset", {}) if isinstance(config, dict) else {}
    for tag, (step, _) in final.items():
        if tag in out:
            continue
        if dataset.get("kind") == "points" and tag in ("metrics/modes", "metrics/high_quality", "metrics/kl_modes"):
            out[tag] = (f"2-D {dataset.get('name')}: {dataset.get('eval_samples', 2500)} generated points, "
                        f"high quality = within 3 std of the nearest mode, mode covered with >= "
                        f"{dataset.get('min_count', 1)} such points (step {step})")
        else:
            out[tag] = f"scalars.jsonl tag {tag} at step {step} (no protocol record)"
    return out


def find_runs(dirs: list[str]) -> list[Run]:
    """Every run folder under the given folders, sorted by (group, norm, setting, path)."""
    runs = []
    for top in dirs:
        if not os.path.isdir(top):
            raise UserError(f"{top} is not a folder: pass a run folder or a `sngan train -m` sweep folder")
        for root, subdirs, files in os.walk(top):
            subdirs[:] = sorted(d for d in subdirs if d not in ("tb", "checkpoints", "samples", ".hydra"))
            if "scalars.jsonl" not in files:
                continue
            config = _load_config(root)
            if config is None:
                raise UserError(f"{root} has scalars.jsonl but no .hydra/config.yaml or checkpoint: "
                                f"cannot tell its norm and setting; remove it or restore its config")
            spectra = _read_jsonl(os.path.join(root, "spectra.jsonl"))
            run = Run(root, config, read_scalars(os.path.join(root, "scalars.jsonl")),
                      spectra[-1] if spectra else None)
            run.protocols = _protocols(root, config, run.final())
            runs.append(run)
    if not runs:
        raise UserError(f"no run folders (with scalars.jsonl) under {', '.join(dirs)}: "
                        f"pass the folder `sngan train` or `sngan train -m` wrote")
    return sorted(runs, key=lambda r: (r.group, norm_key(r.norm), setting_key(r.setting), r.path))


def norm_key(norm: str):
    return (NORM_ORDER.index(norm), "") if norm in NORM_ORDER else (len(NORM_ORDER), norm)


def setting_key(setting: str):
    return (SETTING_ORDER.index(setting), "") if setting in SETTING_ORDER else (len(SETTING_ORDER), setting)


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
    norms = sorted({r.norm for r in runs}, key=norm_key)
    settings = sorted({r.setting for r in runs}, key=setting_key)
    table = {(n, s): [] for n in norms for s in settings}
    for r in runs:
        v = value(r)
        if v is not None:
            table[(r.norm, r.setting)].append(v)
    return norms, settings, table


def markdown_pivot(runs: list[Run], value) -> list[str]:
    norms, settings, table = pivot(runs, value)
    lines = ["| norm \\ setting | " + " | ".join(settings) + " |", "|---" * (len(settings) + 1) + "|"]
    for n in norms:
        lines.append(f"| {n} | " + " | ".join(cell(table[(n, s)]) for s in settings) + " |")
    return lines


CSV_BASE = ["run", "dataset", "arch", "loss", "norm", "setting", "lr", "beta1", "beta2", "n_dis", "steps",
            "sec_per_100_G_updates"]


def csv_rows(runs: list[Run], tags: list[str]) -> tuple[list[str], list[dict]]:
    header = CSV_BASE + tags + [f"{t} protocol" for t in tags]
    rows = []
    for r in runs:
        final = r.final()
        row = {"run": r.path, "dataset": r._get("dataset", "name"), "arch": r._get("arch", "name"),
               "loss": r._get("loss", "name"), "norm": r.norm, "setting": r.setting,
               "lr": r._get("optim", "lr"), "beta1": r._get("optim", "beta1"), "beta2": r._get("optim", "beta2"),
               "n_dis": r._get("optim", "n_dis"), "steps": r.last_step(),
               "sec_per_100_G_updates": "" if r.sec_per_100() is None else f"{r.sec_per_100():.6g}"}
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
        md += [f"## {group} (dataset-arch-loss)", ""]
        for tag in g_tags:
            protocols = sorted({r.protocols[tag] for r in g_runs if tag in r.protocols})
            md += [f"### {tag}", "", "Protocol: " + (" / ".join(protocols) or "unknown"), ""]
            md += markdown_pivot(g_runs, lambda r, t=tag: r.final_with_std(t)) + [""]
        if not g_tags:
            md += ["No metrics/* tags were logged by these runs (enable metrics in training).", ""]
        md += ["### seconds per 100 generator updates (first window left out as warm-up)", ""]
        md += markdown_pivot(g_runs, Run.sec_per_100) + [""]
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
    args = parser.parse_args(argv)
    out = args.out or (os.path.join(args.dirs[0], "report") if len(args.dirs) == 1 else "report")
    runs = find_runs(args.dirs)
    try:
        figures = write_report(runs, out, args.dirs)
    except OSError as e:
        raise UserError(f"cannot write the report to {out} ({e.strerror}): pass --out PATH to a writable folder")
    n_fig = sum(len(v) for v in figures.values())
    print(json.dumps({"runs": len(runs), "out": os.path.abspath(out), "figures": n_fig}))
