"""The SN-GAN paper's figures from run folders (reader.Run), as PNGs (matplotlib, Agg backend), named
and numbered as in the paper (arXiv 1802.05957):

fig1_inception_score_<group>: IS per setting A-F, one line per norm, mean ± std over seeds (paper Fig. 1).
fig2_fid_<group>:  FID per setting, the same (paper Fig. 2); other metrics (KID, the 2-D mode metrics) go to
      metrics_<group>.png in the same style.
fig3_spectra_<group>: squared singular values of each D layer's normalized weight W_bar, over the largest,
      each norm at its best setting, at the end of training (paper Fig. 3; the trained models).
fig9_sigma_normalized_<group>_<setting>: sigma(W_bar) of each D layer over training, one panel per norm: per
      window of updates the mean over seeds of each seed's mean, and the range (paper Fig. 9, which shows setting C).
fig10_time_<group>: seconds per 100 generator updates per norm (paper Fig. 10).
samples_<group>_<setting>: each norm's last sample grid (2-D: scatter) side by side, from the same seed's run, so
      the same latents and step for every norm (the paper's Figs. 5-6 show such grids per setting).
sigma_estimate_<group>: sigma of each D layer's raw weight over training, exact (solid) and SN's power-iteration
      estimate (dashed); no paper figure (a slide deck on the paper numbers it "Fig. 2", and its "Fig. 3" and
      "Fig. 6" are the paper's Figs. 1-2 and 3).
"""
from __future__ import annotations

import io
import os
import statistics

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from .reader import method_key, metric_base, paper_layer_names, setting_key  # noqa: E402

DPI = 110
# one colour per norm in every figure (a method's label may add its loss or --by keys: `gp (wgan)`)
NORM_COLORS = {"sn": "#d62728", "none": "#7f7f7f", "wc": "#ff7f0e", "wn": "#2ca02c", "ln": "#9467bd",
               "bn": "#8c564b", "ortho": "#e377c2", "gp": "#1f77b4", "bssn": "#17becf"}
REFERENCE_STYLES = {"real data": "--", "real mixture": "--", "one Gaussian": ":"}


def color_of(method: str) -> str:
    return NORM_COLORS.get(method.split(" ")[0], "#000000")


def _legend_outside(fig, axes) -> None:
    """One legend for the figure, right of the panels: never over the data."""
    handles = {}
    for ax in axes.flat:
        for h, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, h)
    if handles:
        fig.legend(handles.values(), handles.keys(), loc="center left", bbox_to_anchor=(1.0, 0.5))


def _marks(n: int) -> dict:
    """Marker keywords for a line of n points: every line shows markers, so a single logged point is
    visible; long lines mark about 20 evenly spaced points, small."""
    return {"marker": "o", "markersize": 4 if n <= 20 else 3, "markevery": max(1, n // 20)}


def _layer_color(k: int, n: int):
    """Colour of the k-th of n D layers: viridis (up to its green; its yellow reads badly on white), a scale no
    norm's colour (NORM_COLORS) is taken from, so a layer never looks like a norm."""
    return plt.get_cmap("viridis")(0.9 * k / max(n - 1, 1))


def _lowest_seed(runs):
    """The run with the lowest seed (runs without one last; ties by folder): one run drawn for a cell."""
    return min(runs, key=lambda r: (r.seed if isinstance(r.seed, int) else 1 << 62, r.path))


def _grid(n: int, max_cols: int = 3) -> tuple[int, int]:
    cols = min(n, max_cols)
    return (n + cols - 1) // cols, cols


def _finish_panels(fig, axes, used: int, title: str, out: str, name: str) -> str:
    """Blank the grid's unused panels, title the figure and save it."""
    for ax in list(axes.flat)[used:]:
        ax.axis("off")
    fig.suptitle(title)
    if fig.get_layout_engine() is None:  # panels made with a layout engine keep it
        fig.tight_layout()
    return _save(fig, out, name)


def _save(fig, out: str, name: str) -> str:
    """The figure as a 256-colour PNG: a plot has few colours, and a palette PNG is a third of the RGBA one (reports
    are committed to repositories)."""
    from PIL import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=DPI, bbox_inches="tight", format="png")
    plt.close(fig)
    buffer.seek(0)
    with Image.open(buffer) as image:
        image.convert("RGB").quantize(colors=256).save(os.path.join(out, name), optimize=True)
    return name


def _norms(runs):
    return sorted({r.method for r in runs}, key=method_key)


def _settings(runs):
    return sorted({r.setting for r in runs}, key=setting_key)


def _cells(runs, norm, tag):
    """(setting indices, means, stds, [each run's value]) of tag's final value for one norm: std over seeds, or for a
    single run the std it logged with the metric (metrics/IS_std, ...)."""
    xs, ys, es, each = [], [], [], []
    for i, s in enumerate(_settings(runs)):
        vals = [r.final_with_std(tag) for r in runs if r.method == norm and r.setting == s]
        vals = [v for v in vals if v is not None]
        if vals:
            xs.append(i)
            ys.append(statistics.fmean(v for v, _ in vals))
            es.append(statistics.stdev(v for v, _ in vals) if len(vals) > 1 else (vals[0][1] or 0.0))
            each.append([v for v, _ in vals])
    return xs, ys, es, each


# The range a metric can take (by metric_base): error bars stop at its ends instead of promising impossible values
# (a share below 0, a mode count below 0, an IS below 1).
METRIC_RANGE = {"IS": (1.0, None), "FID": (0.0, None), "high_quality": (0.0, 1.0), "near_copies": (0.0, 1.0),
                "class_share_min": (0.0, 1.0), "class_share_max": (0.0, 1.0), "modes": (0.0, None),
                "kl_modes": (0.0, None), "class_kl": (0.0, None), "classes_missing": (0.0, None),
                "memorization_ratio": (0.0, None)}


def _bar_lengths(tag: str, ys, es, log: bool) -> tuple[list[float], list[float]]:
    """(lower, upper) error-bar lengths: the std, cut at the metric's range and, on a log axis, above zero."""
    low, high = METRIC_RANGE.get(metric_base(tag), (None, None))
    lower = [min(e, y - low) if low is not None else e for y, e in zip(ys, es)]
    upper = [min(e, high - y) if high is not None else e for y, e in zip(ys, es)]
    if log:
        lower = [min(e, 0.9 * y) for y, e in zip(ys, lower)]
    return [max(v, 0.0) for v in lower], [max(v, 0.0) for v in upper]


def _metric_panels(runs, tags, out, title, name, untrained=frozenset(), references=None) -> str | None:
    """One panel per metric: final value per setting, one line per norm (its colour in every figure) with error bars
    over seeds; cells marked untrained (method, setting) are hollow and no line runs through them; a dashed line
    where real data was measured the same way (and, for 2-D, the real mixture dashed and one Gaussian dotted)."""
    if not tags:
        return None
    settings = _settings(runs)
    seeds = sorted({len([r for r in runs if r.method == m and r.setting == s]) for m in _norms(runs)
                    for s in settings} - {0})
    rows, cols = _grid(len(tags))
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.8 * rows), squeeze=False)
    norms = _norms(runs)
    for ax, tag in zip(axes.flat, tags):
        log = metric_base(tag) in ("FID", "KID") and all(r.final()[tag][1] > 0 for r in runs if tag in r.final())
        for k, norm in enumerate(norms):
            xs, ys, es, each = _cells(runs, norm, tag)
            if not xs:
                continue
            color = color_of(norm)
            shift = 0.3 * (k - (len(norms) - 1) / 2) / max(len(norms) - 1, 1)  # norms side by side, not on one x
            dead = [(norm, settings[x]) in untrained for x in xs]
            xs = [x + shift for x in xs]
            line = [float("nan") if d else y for y, d in zip(ys, dead)]  # the line breaks at untrained cells
            ax.plot(xs, line, color=color, label=norm, **_marks(len(xs)))
            ax.errorbar(xs, ys, yerr=_bar_lengths(tag, ys, es, log), fmt="none", ecolor=color, capsize=3)
            seeds_x = [x for x, values in zip(xs, each) for _ in values]
            ax.plot(seeds_x, [v for values in each for v in values], linestyle="none", marker=".", markersize=4,
                    color=color, alpha=0.5)  # every seed's own value
            hollow = [(x, y) for x, y, d in zip(xs, ys, dead) if d]
            if hollow:
                ax.plot(*zip(*hollow), linestyle="none", marker="o", markersize=8, markerfacecolor="white",
                        markeredgecolor=color)
        reals = [r.real[tag] for r in runs if tag in r.real]
        lines = dict((references or {}).get(tag, {}))
        if reals:
            lines["real data"] = statistics.fmean(reals)
        for label, value in lines.items():
            style = {"color": "black", "linewidth": 1, "linestyle": REFERENCE_STYLES.get(label, "-.")}
            if not log or value > 0:
                ax.axhline(value, label=label, **style)
            else:  # a log axis cannot show it: the legend still says what it is
                ax.plot([], [], label=f"{label}: {value:.3g} (not on the log axis)", **style)
        ax.set_xticks(range(len(settings)), settings)
        ax.set_xlabel("setting (A-F: paper Table 1)" if set(settings) - set("ABCDEF") else "setting (paper Table 1)")
        ax.set_ylabel(tag.split("/", 1)[1])
        if log:
            ax.set_yscale("log")  # as the paper draws FID: failed cells are orders of magnitude above the rest
        ax.set_title(f"{tag} per setting")
        ax.grid(alpha=0.3)
    _legend_outside(fig, axes)
    n = "/".join(map(str, seeds)) or "0"
    note = f"; mean ± std over {n} seeds, dots: each seed" + ("; hollow: not trained" if untrained else "")
    return _finish_panels(fig, axes, len(tags), title + note, out, name)


def fig_metrics(runs, tags, out, group, untrained=frozenset(), references=None) -> list[str]:
    """Figs. 1 and 2 of the paper (IS and FID per setting), and the other metrics in the same style; `references`:
    tag -> {label: value} horizontal lines (2-D: the real mixture and one Gaussian)."""
    is_tags = [t for t in tags if metric_base(t) == "IS"]
    fid_tags = [t for t in tags if metric_base(t) == "FID"]
    other = [t for t in tags if t not in is_tags and t not in fid_tags]
    names = [_metric_panels(runs, is_tags, out, f"Inception score per setting ({group}; paper Fig. 1)",
                            f"fig1_inception_score_{group}.png", untrained, references),
             _metric_panels(runs, fid_tags, out, f"FID per setting ({group}; paper Fig. 2)",
                            f"fig2_fid_{group}.png", untrained, references),
             _metric_panels(runs, other, out, f"Other metrics per setting ({group})", f"metrics_{group}.png",
                            untrained, references)]
    return [n for n in names if n]


def fig_sigma(runs, out, group) -> str | None:
    """Rows: norms, columns: settings; lines: sigma of each D layer's raw weight over training, exact and SN's
    estimate (the first seed of each cell). No paper figure: the check that SN's estimate tracks the truth."""
    if not any(r.series_tags("sigma_exact/D/") for r in runs):
        return None
    norms, settings = _norms(runs), _settings(runs)
    fig, axes = plt.subplots(len(norms), len(settings), figsize=(4 * len(settings), 3 * len(norms)),
                             squeeze=False, sharex=True)
    handles = {}
    for i, norm in enumerate(norms):
        for j, s in enumerate(settings):
            ax = axes[i][j]
            match = [r for r in runs if r.method == norm and r.setting == s]
            if not match:
                ax.axis("off")
                continue
            run = _lowest_seed(match)  # one run per cell
            layers = run.series_tags("sigma_exact/D/")
            names = paper_layer_names(layers, str(run._get("arch", "name")))
            for k, layer in enumerate(layers):
                color = _layer_color(k, len(layers))
                steps, values = zip(*run.series(f"sigma_exact/D/{layer}"))
                (h,) = ax.plot(steps, values, color=color, label=names[layer], **_marks(len(steps)))
                handles.setdefault(names[layer], h)
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
    fig.suptitle(f"Largest singular value per D layer over training ({group}; the lowest seed of each cell); "
                 f"solid/o: exact, dashed/x: SN power-iteration estimate")
    fig.legend(handles.values(), handles.keys(), title="D layer", loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    return _save(fig, out, f"sigma_estimate_{group}.png")


def fig_spectra(runs, out, group, best: dict[str, str]) -> str | None:
    """Paper Fig. 3: one panel per D layer (the paper's names: conv1 ... fc; layers with one singular value left
    out), the squared singular values of its normalized weight W_bar over the largest (sigma_i^2 / sigma_1^2), a
    line per norm at its best setting (`best`: norm -> setting): the mean over every seed of that cell at its last
    spectra report (the trained models), the band their range."""
    chosen = {}
    for norm, setting in best.items():
        match = [r for r in runs if r.method == norm and r.setting == setting and r.spectra]
        if match:
            chosen[norm] = match
    if not chosen:
        return None
    def by_paper_name(run) -> dict:
        # layers matched by the paper's name (conv1 ... fc), not by module path: a norm that adds modules to D (LN's
        # layer norms) shifts the paths of the same convs (its conv3 is main.05, SN's main.04)
        spectra = run.spectra["spectra"]
        names = paper_layer_names(list(spectra), str(run._get("arch", "name")))
        return {names.get(layer, layer): sv for layer, sv in spectra.items()}

    named = {norm: [by_paper_name(run) for run in cell] for norm, cell in chosen.items()}  # once per run
    first = next(iter(named.values()))[0]
    layers = [name for name, sv in first.items() if len(sv) > 1]
    if not layers:
        return None
    rows, cols = _grid(len(layers), 4)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.2 * rows), squeeze=False)
    for ax, layer in zip(axes.flat, layers):
        for norm, cell in sorted(named.items(), key=lambda item: method_key(item[0])):
            curves = []
            for spectra in cell:
                sv = spectra.get(layer)
                if sv:
                    top = max(sv[0] ** 2, 1e-30)
                    curves.append([v * v / top for v in sv])
            if not curves:
                continue
            n = min(len(c) for c in curves)
            mean = [statistics.fmean(c[i] for c in curves) for i in range(n)]
            color = color_of(norm)
            ax.plot(range(n), mean, color=color, label=f"{norm} ({best[norm]}, {len(curves)} seeds)", **_marks(n))
            ax.fill_between(range(n), [min(c[i] for c in curves) for i in range(n)],
                            [max(c[i] for c in curves) for i in range(n)], color=color, alpha=0.15)
        ax.set_title(layer, fontsize=10)
        ax.set_xlabel("index (descending)")
        ax.set_ylabel("sigma_i^2 / sigma_1^2")
        ax.set_ylim(0, 1.05)
        ax.grid(alpha=0.3)
    _legend_outside(fig, axes)
    steps = sorted({run.spectra.get("step", "?") for cell in chosen.values() for run in cell})
    return _finish_panels(fig, axes, len(layers), f"Squared singular values of each D layer's normalized weight, "
                          f"each norm at its best setting, step {'/'.join(map(str, steps))} ({group}; paper Fig. 3)",
                          out, f"fig3_spectra_{group}.png")


FIG9_WINDOWS = 20  # Fig. 9 draws at most this many windows after step 0, whatever the logging density


def _windows(series: list[list[tuple[int, float]]], windows: int = FIG9_WINDOWS) -> list[tuple[float, float, float, float]]:
    """(mean step, mean, smallest, largest) per window over several runs' (step, value) series: `windows` equal spans
    of the steps after step 0 (step 0, the initialization, its own point). The mean is over the runs' own window means,
    so a run logged more often does not outweigh the others; smallest and largest over every value. A value that
    jitters from one update to the next is drawn as its level and range per window instead of as a sawtooth of
    whichever updates happened to be sampled."""
    last = max((step for points in series for step, _ in points), default=0)
    spans: dict[int, list[list[tuple[int, float]]]] = {}
    for points in series:
        mine: dict[int, list[tuple[int, float]]] = {}
        for step, value in points:
            key = -1 if step == 0 else min(windows - 1, (step - 1) * windows // max(last, 1))
            mine.setdefault(key, []).append((step, value))
        for key, members in mine.items():
            spans.setdefault(key, []).append(members)
    out = []
    for key in sorted(spans):
        runs = spans[key]
        steps = [step for members in runs for step, _ in members]
        values = [value for members in runs for _, value in members]
        out.append((statistics.fmean(steps), statistics.fmean(statistics.fmean(v for _, v in m) for m in runs),
                    min(values), max(values)))
    return out


def fig_sigma_normalized(runs, out, group, setting) -> str | None:
    """Paper Fig. 9: sigma(W_bar) of each D layer over training in one setting, one panel per norm (1 is an exact
    spectral normalization): per window of updates, the mean over every seed's measurements in it (line) and their
    range (band). Layers take colours of their own (viridis), never a norm's."""
    runs = [r for r in runs if r.setting == setting and r.series_tags("sigma_normalized/D/")]
    if not runs:
        return None
    norms = _norms(runs)
    rows, cols = _grid(len(norms), 4)
    fig, axes = plt.subplots(rows, cols, figsize=(4.5 * cols, 3.4 * rows), squeeze=False, sharey=False)
    for ax in list(axes.flat)[len(norms):]:
        ax.axis("off")
    per_window = []
    for ax, norm in zip(axes.flat, norms):
        cell = [r for r in runs if r.method == norm]
        layers = cell[0].series_tags("sigma_normalized/D/")
        names = paper_layer_names(layers, str(cell[0]._get("arch", "name")))
        for k, layer in enumerate(layers):
            series = [r.series(f"sigma_normalized/D/{layer}") for r in cell]
            drawn = _windows(series)
            per_window.append(sum(map(len, series)) / max(len(drawn), 1))
            x, mean, lo, hi = zip(*drawn)
            color = _layer_color(k, len(layers))
            ax.plot(x, mean, color=color, label=names.get(layer, layer), **_marks(len(x)))
            ax.fill_between(x, lo, hi, color=color, alpha=0.15)
        ax.set_title(f"norm={norm} ({len(cell)} seed{'s' if len(cell) > 1 else ''})", fontsize=10)
        ax.set_xlabel("generator updates")
        ax.set_ylabel("sigma(W_bar)")
        ax.grid(alpha=0.3)
    _legend_outside(fig, axes)
    fig.suptitle(f"sigma(W_bar) of D's layers over training, setting {setting} ({group}; paper Fig. 9)\n"
                 f"line: mean over seeds of each seed's mean in each of up to {FIG9_WINDOWS} windows (about "
                 f"{statistics.fmean(per_window):.0f} per window); band: smallest to largest; each measured right "
                 f"after a G step")
    fig.tight_layout()
    return _save(fig, out, f"fig9_sigma_normalized_{group}_{setting}.png")


def fig_time(runs, out, group) -> str | None:
    """Bars: seconds per 100 G updates per norm (its colour), one group of bars per setting (n_dis differs between
    settings, so compare within a group). From the runs' own logs: under whatever else shared the CPU; the cost
    claim of the paper's Fig. 10 rests on `sngan bench` (interleaved on a quiet machine), not on this figure."""
    if not any(r.sec_per_100() is not None for r in runs):
        return None
    norms, settings = _norms(runs), _settings(runs)
    width = 0.8 / len(norms)
    fig, ax = plt.subplots(figsize=(max(5, 1.2 * len(settings) * max(1, len(norms) / 3)), 4))
    for i, norm in enumerate(norms):
        xs, ys = [], []
        for j, s in enumerate(settings):
            vals = [r.sec_per_100() for r in runs if r.method == norm and r.setting == s and r.sec_per_100() is not None]
            if vals:
                xs.append(j + (i - (len(norms) - 1) / 2) * width)
                ys.append(statistics.fmean(vals))
        ax.bar(xs, ys, width=width, label=norm, color=color_of(norm))
    n_dis = {s: next((r._get("optim", "n_dis") for r in runs if r.setting == s), "?") for s in settings}
    ax.set_xticks(range(len(settings)), [f"{s}\n(n_dis {n_dis[s]})" for s in settings])
    ax.set_xlabel("setting")
    ax.set_ylabel("seconds per 100 generator updates")
    ax.set_title(f"Training time per norm ({group}; from the runs' logs, warm-up left out)\nunder whatever else "
                 f"ran beside them: the cost comparison of paper Fig. 10 is `sngan bench`'s", fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    return _save(fig, out, f"fig10_time_{group}.png")


def _headline(run) -> str:
    """The run's final FID (else IS) for a panel title, '' when it logged neither."""
    final = run.final()
    for base in ("FID", "IS"):
        tag = next((t for t in final if metric_base(t) == base), None)
        if tag:
            return f"{base} {final[tag][1]:.4g}"
    return ""


def fig_samples(runs, out, group, setting, untrained=frozenset()) -> str | None:
    """One panel per norm: the last sample grid of its run with the lowest seed in `setting` (every norm's run of one
    seed draws its grid from the same fixed latents), titled with the norm, that run's final FID or IS, and "not
    trained" where its cell failed the trained rule."""
    grids = {r.path: r.last_sample_grid() for r in runs if r.setting == setting}  # one folder listing per run
    chosen = {}
    for norm in _norms(runs):
        cell = [r for r in runs if r.method == norm and r.setting == setting and grids[r.path]]
        if cell:
            chosen[norm] = _lowest_seed(cell)
    if not chosen:
        return None
    seeds = sorted({str(r.seed) for r in chosen.values()})
    steps = sorted({grids[r.path][0] for r in chosen.values()})
    rows, cols = _grid(len(chosen), 4)
    # constrained layout: tight_layout lets a row's multi-line titles overlap the images above them
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 3.9 * rows), squeeze=False, layout="constrained")
    for ax, (norm, run) in zip(axes.flat, chosen.items()):
        step, path = grids[run.path]
        ax.imshow(plt.imread(path), cmap="gray")
        ax.set_xticks([])
        ax.set_yticks([])
        for side in ax.spines.values():
            side.set_color(color_of(norm))
            side.set_linewidth(3)
        details = [_headline(run)] + (["not trained"] if (norm, setting) in untrained else [])
        details += [f"step {step}"] if len(steps) > 1 else []
        ax.set_title(norm + "".join(f"\n{d}" for d in details if d), fontsize=10)
    title = (f"Samples per norm ({group}, setting {setting}; seed {'/'.join(seeds)}, "
             f"step {'/'.join(map(str, steps))}; the same latents for every norm)")
    return _finish_panels(fig, axes, len(chosen), title, out, f"samples_{group}_{setting}.png")


def all_figures(runs, tags, out, group, best: dict[str, str] | None = None, untrained=frozenset(),
                references=None) -> list[str]:
    """Every figure of one group. `best`: norm -> its best setting (Fig. 3); default: each norm's first setting.
    Fig. 9 is drawn for setting C as the paper's (for every setting when the runs have no C). `references`: tag ->
    {label: value}, drawn as horizontal lines (2-D: the real mixture, one Gaussian)."""
    best = best or {norm: next(r.setting for r in runs if r.method == norm) for norm in _norms(runs)}
    settings = _settings(runs)
    names = fig_metrics(runs, tags, out, group, untrained, references) + [fig_spectra(runs, out, group, best)]
    names += [fig_sigma_normalized(runs, out, group, s) for s in (["C"] if "C" in settings else settings)]
    names += [fig_sigma(runs, out, group), fig_time(runs, out, group)]
    names += [fig_samples(runs, out, group, s, untrained) for s in settings]
    return [n for n in names if n]
