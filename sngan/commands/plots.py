"""The SN-GAN paper's figures from run folders (sngan.run.reader.Run), as PNGs (matplotlib, Agg backend).

fig3: final metric per setting, one line per norm (paper Fig. 3).
fig2: sigma of each D layer over training: exact (solid, o) and power-iteration estimate (dashed, x) (Fig. 2).
fig6: squared singular values of each D layer's weight at the end, normalized by the largest, per norm
      (Fig. 6 of the paper plots sigma_i^2 / sigma_1^2).
fig10: seconds per 100 generator updates per norm (and setting) (Fig. 10).
"""
from __future__ import annotations

import os
import statistics

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ..run.reader import method_key, setting_key  # noqa: E402

DPI = 110


def _marks(n: int) -> dict:
    """Marker keywords for a line of n points: every line shows markers, so a single logged point is
    visible; long lines mark about 20 evenly spaced points, small."""
    return {"marker": "o", "markersize": 4 if n <= 20 else 3, "markevery": max(1, n // 20)}


def _grid(n: int, max_cols: int = 3) -> tuple[int, int]:
    cols = min(n, max_cols)
    return (n + cols - 1) // cols, cols


def _finish_panels(fig, axes, used: int, title: str, out: str, name: str) -> str:
    """Blank the grid's unused panels, title the figure and save it."""
    for ax in list(axes.flat)[used:]:
        ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, out, name)


def _save(fig, out: str, name: str) -> str:
    fig.savefig(os.path.join(out, name), dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return name


def _norms(runs):
    return sorted({r.method for r in runs}, key=method_key)


def _settings(runs):
    return sorted({r.setting for r in runs}, key=setting_key)


def fig_metrics(runs, tags, out, group) -> str | None:
    """Final value of each metric per setting, one line per norm; bars: the std over runs, or for a single
    run the std it logged with the metric (metrics/IS_std, ...)."""
    if not tags:
        return None
    settings = _settings(runs)
    rows, cols = _grid(len(tags))
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.8 * rows), squeeze=False)
    for ax, tag in zip(axes.flat, tags):
        for norm in _norms(runs):
            xs, ys, es = [], [], []
            for i, s in enumerate(settings):
                vals = [r.final_with_std(tag) for r in runs if r.method == norm and r.setting == s]
                vals = [v for v in vals if v is not None]
                if vals:
                    xs.append(i)
                    ys.append(statistics.fmean(v for v, _ in vals))
                    es.append(statistics.stdev(v for v, _ in vals) if len(vals) > 1 else (vals[0][1] or 0.0))
            if xs:
                ax.errorbar(xs, ys, yerr=es, capsize=3, label=norm, **_marks(len(xs)))
        ax.set_xticks(range(len(settings)), settings)
        ax.set_xlabel("setting (paper Table 1)")
        ax.set_ylabel(tag.split("/", 1)[1])
        ax.set_title(f"{tag} per setting")
        ax.grid(alpha=0.3)
        ax.legend(title="norm")
    return _finish_panels(fig, axes, len(tags), f"Final metrics per setting and norm ({group})",
                          out, f"fig3_metrics_{group}.png")


def fig_sigma(runs, out, group) -> str | None:
    """Rows: norms, columns: settings; lines: sigma per D layer over training."""
    if not any(r.series_tags("sigma_exact/D/") for r in runs):
        return None
    norms, settings = _norms(runs), _settings(runs)
    fig, axes = plt.subplots(len(norms), len(settings), figsize=(4 * len(settings), 3 * len(norms)),
                             squeeze=False, sharex=True)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    handles = {}
    for i, norm in enumerate(norms):
        for j, s in enumerate(settings):
            ax = axes[i][j]
            match = [r for r in runs if r.method == norm and r.setting == s]
            if not match:
                ax.axis("off")
                continue
            run = match[0]  # one run per cell: the first seed
            for k, layer in enumerate(run.series_tags("sigma_exact/D/")):
                color = colors[k % len(colors)]
                steps, values = zip(*run.series(f"sigma_exact/D/{layer}"))
                (h,) = ax.plot(steps, values, color=color, label=layer, **_marks(len(steps)))
                handles.setdefault(layer, h)
                est = run.series(f"sigma/D/{layer}")
                if est:
                    steps, values = zip(*est)
                    ax.plot(steps, values, color=color, linestyle="--", **{**_marks(len(steps)), "marker": "x"})
            ax.set_yscale("log")
            ax.set_title(f"norm={norm}, setting={s}", fontsize=10)
            ax.grid(alpha=0.3)
            if j == 0:
                ax.set_ylabel("sigma of raw D weight")
            if i == len(norms) - 1:
                ax.set_xlabel("generator updates")
    fig.suptitle(f"Largest singular value per D layer over training ({group}); "
                 f"solid/o: exact, dashed/x: SN power-iteration estimate")
    fig.legend(handles.values(), handles.keys(), title="D layer", loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    return _save(fig, out, f"fig2_sigma_{group}.png")


def fig_spectra(runs, out, group, setting) -> str | None:
    """One panel per D layer: the final squared singular values normalized by the largest (sigma_i^2 / sigma_1^2,
    as the paper's Fig. 6), a line per norm."""
    runs = [r for r in runs if r.setting == setting and r.spectra]
    if not runs:
        return None
    layers = list(runs[0].spectra["spectra"])
    rows, cols = _grid(len(layers), 4)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.2 * rows), squeeze=False)
    for ax, layer in zip(axes.flat, layers):
        for norm in _norms(runs):
            run = next(r for r in runs if r.method == norm)
            sv = run.spectra["spectra"].get(layer)
            if not sv:
                continue
            top = max(sv[0] ** 2, 1e-30)
            ax.plot(range(len(sv)), [v * v / top for v in sv], label=norm, **_marks(len(sv)))
        ax.set_title(layer, fontsize=10)
        ax.set_xlabel("index (descending)")
        ax.set_ylabel("sigma_i^2 / sigma_1^2")
        ax.set_ylim(0, 1.05)
        ax.grid(alpha=0.3)
        ax.legend(title="norm", fontsize=8)
    return _finish_panels(fig, axes, len(layers), f"Squared singular values of each D layer's weight at the end of "
                          f"training ({group}, setting {setting})", out, f"fig6_spectra_{group}_{setting}.png")


def fig_time(runs, out, group) -> str | None:
    """Bars: seconds per 100 G updates per norm, one bar per setting (n_dis differs between settings)."""
    if not any(r.sec_per_100() is not None for r in runs):
        return None
    norms, settings = _norms(runs), _settings(runs)
    width = 0.8 / len(settings)
    fig, ax = plt.subplots(figsize=(max(5, 1.4 * len(norms) * max(1, len(settings) / 2)), 4))
    for j, s in enumerate(settings):
        xs, ys = [], []
        for i, norm in enumerate(norms):
            vals = [r.sec_per_100() for r in runs if r.method == norm and r.setting == s and r.sec_per_100() is not None]
            if vals:
                xs.append(i + (j - (len(settings) - 1) / 2) * width)
                ys.append(statistics.fmean(vals))
        ax.bar(xs, ys, width=width, label=f"setting {s}")
    ax.set_xticks(range(len(norms)), norms)
    ax.set_xlabel("normalization of D")
    ax.set_ylabel("seconds per 100 generator updates")
    ax.set_title(f"Training time per norm ({group}; warm-up window left out)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return _save(fig, out, f"fig10_time_{group}.png")


def all_figures(runs, tags, out, group) -> list[str]:
    names = [fig_metrics(runs, tags, out, group), fig_sigma(runs, out, group)]
    names += [fig_spectra(runs, out, group, s) for s in _settings(runs)]
    names.append(fig_time(runs, out, group))
    return [n for n in names if n]
