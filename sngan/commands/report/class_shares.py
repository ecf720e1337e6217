"""The share of each class among a run's generated images (sngan.metrics.classes' last evaluation), per setting: one
row per norm, one column per class, mean ± std over the finished runs, in percent."""
from __future__ import annotations

import statistics

from ...data.class_names import class_names
from .reader import Run, method_key, setting_key


def _percent(values: list[float]) -> str:
    mean = 100 * statistics.fmean(values)
    return f"{mean:.1f}" if len(values) == 1 else f"{mean:.1f} ± {100 * statistics.stdev(values):.1f}"


def class_share_tables(runs: list[Run], notes: dict | None = None) -> list[str]:
    """Markdown: per class count and setting, norms x classes; [] when no finished run measured class shares.
    `notes` ((method, setting) -> text) follow the norm's name. Runs with another number of classes (two folder
    datasets in one group) get tables of their own, never a column cut off."""
    measured = [r for r in runs if r.finished and r.class_shares]
    if not measured:
        return []
    notes = notes or {}
    steps = sorted({r.class_shares[0] for r in measured})
    md = ["### Share of each class among the generated images (metrics.classes)", "",
          f"Percent of the generated images the classifier labels as each class, at step {'/'.join(map(str, steps))}; "
          f"mean ± std over the runs (n).", ""]
    for k in sorted({len(r.class_shares[1]) for r in measured}):
        same_k = [r for r in measured if len(r.class_shares[1]) == k]
        dataset = same_k[0].dataset
        names = class_names(getattr(dataset, "format", None) or dataset.name, k)  # a hand-written record: a name only
        for setting in sorted({r.setting for r in same_k}, key=setting_key):
            md += [f"Setting {setting}, {k} classes (uniform: {100 / k:.1f} each):", "",
                   "| norm | " + " | ".join(names) + " |", "|---" * (k + 1) + "|"]
            for norm in sorted({r.method for r in same_k if r.setting == setting}, key=method_key):
                cell = [r.class_shares[1] for r in same_k if r.setting == setting and r.method == norm]
                label = f"{norm} (n={len(cell)}" + (f"; {notes[(norm, setting)]}" if (norm, setting) in notes else "")
                md.append(f"| {label}) | " + " | ".join(_percent([shares[c] for shares in cell]) for c in range(k))
                          + " |")
            md.append("")
    return md
