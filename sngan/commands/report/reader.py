"""Run folders read back for `sngan report`: config, scalars, metrics with their protocols, the singular-value
spectra at step 0 and at the end, and whether the run reached its train.steps. Checkpoints are read through the
digest check."""
from __future__ import annotations

import os
import statistics
from collections import Counter
from dataclasses import dataclass, field
from types import SimpleNamespace

from ...errors import UserError
from ...run.layout import RunFolder, list_checkpoints, read_jsonl
from ...run import timing
from ...run.logger import last_values

SETTING_ORDER = ["A", "B", "C", "D", "E", "F"]
NORM_ORDER = ["none", "wc", "wn", "sn"]  # then the others by name
STD_SUFFIX = "_std"  # metrics/IS_std is the spread of metrics/IS: shown as ± next to it, not on its own


def metric_base(tag: str) -> str:
    """The metric a tag measures, whatever its feature extractor: metrics/IS_digits -> IS, metrics/FID -> FID,
    metrics/high_quality -> high_quality."""
    name = tag.split("/", 1)[-1]
    for base in ("IS", "FID", "KID"):
        if name == base or name.startswith(base + "_"):
            return base
    return name


@dataclass
class Run:
    path: str
    config: dict
    scalars: list[dict]
    spectra: dict | None = None          # the last record of spectra.jsonl
    spectra_start: dict | None = None    # its step-0 record (the untrained D), when the run logged one
    protocols: dict = field(default_factory=dict)  # metric tag -> protocol text
    protocol_items: dict = field(default_factory=dict)  # metric tag -> {dotted protocol key: value text}
    class_shares: tuple | None = None  # (step, [share of each class]) of the last class-coverage evaluation
    real: dict = field(default_factory=dict)       # metric tag -> what real data scored the same way
    method: str = ""  # the row label in a group: the norm, with the loss added where it is not the group's usual
    eval_seconds: float = 0.0  # time its IS/FID/KID evaluations took (metrics.jsonl "seconds")

    def _get(self, *keys, default=""):
        node = self.config
        for k in keys:
            if not isinstance(node, dict) or k not in node:
                return default
            node = node[k]
        return node

    @property
    def dataset(self):
        """The run's dataset options (sngan.data.options), parsed as training parsed them; a folder's class count is
        not needed here, so a folder no longer on this machine still reads."""
        from ...data.options import parse_dataset
        from ...run.legacy import upgrade_config

        from omegaconf import OmegaConf

        from ...data.points import MIXTURES

        node = upgrade_config(self.config).get("dataset") or {}
        if node.get("format") == "folder" and node.get("num_classes") is None:
            node = {**node, "num_classes": 0}
        try:
            return parse_dataset(OmegaConf.create(node))
        except UserError:  # a record written by hand or by sngan 0.1 lacks keys: a report needs its name and kind
            name = str(node.get("name", ""))
            return SimpleNamespace(name=name, points=node.get("kind") == "points" or name in MIXTURES)

    @property
    def norm(self) -> str:
        return str(self._get("norm", "name"))

    @property
    def setting(self) -> str:
        return str(self._get("setting_name"))

    @property
    def seed(self):
        return self._get("seed")

    @property
    def loss(self) -> str:
        return str(self._get("loss", "name"))

    @property
    def group(self) -> str:
        """Runs comparable in one table and figure: same dataset and arch (the paper's Figs. 1-2 put WGAN-GP
        beside the norms trained with the standard loss)."""
        return "-".join(str(self._get(k, "name")) for k in ("dataset", "arch"))

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

    def spectral_breadth(self, at_start: bool = False) -> float | None:
        """How flat D's spectra are (the paper's Fig. 3 in one number): per layer, the stable rank
        sum_i sigma_i^2 / sigma_1^2 divided by the number of singular values (1: all equal; 1/n: rank one),
        averaged over the layers with more than one singular value; at the last report, or at step 0 (the init)."""
        record = self.spectra_start if at_start else self.spectra
        if not record:
            return None
        shares = [sum(v * v for v in sv) / (sv[0] * sv[0]) / len(sv)
                  for sv in record["spectra"].values() if len(sv) > 1 and sv[0] > 0]
        return statistics.fmean(shares) if shares else None

    def sigma_normalized(self) -> tuple[float, float] | None:
        """sigma(W_bar), the largest singular value of the weight each D layer computes with (the paper's Fig. 9
        quantity; 1 for an exact spectral normalization): (mean over every report and layer of |sigma(W_bar) - 1|,
        the largest sigma(W_bar) seen), or None when none was logged."""
        values = [r["value"] for r in self.scalars if r["tag"].startswith("sigma_normalized/D/")]
        if not values:
            return None
        return statistics.fmean(abs(v - 1) for v in values), max(values)

    def sec_per_100(self) -> float | None:
        """Seconds per 100 G updates (length-weighted over the logged windows), the first window (warm-up) left out
        when there are others."""
        return timing.sec_per_100(self.scalars)

    def cpu_threads(self) -> int | None:
        """The CPU threads the run's clock ran on (its last log step), or None (GPU, or not logged)."""
        return timing.cpu_threads(self.scalars)

    def train_seconds(self) -> float:
        """Seconds of G and D updates: each logged window's sec_per_100 times its length in G updates (the logger's
        windows leave bookkeeping, metrics and checkpoints out)."""
        return timing.train_seconds(self.scalars)

    def last_step(self) -> int:
        return max((r["step"] for r in self.scalars), default=0)

    def last_sample_grid(self) -> tuple[int, str] | None:
        """(step, path) of the newest samples/step_<step>.png (the fixed-latent grid, or the 2-D scatter), or None."""
        folder = os.path.join(self.path, "samples")
        names = [n for n in (os.listdir(folder) if os.path.isdir(folder) else [])
                 if n.startswith("step_") and n.endswith(".png") and n[5:-4].isdigit()]
        if not names:
            return None
        name = max(names, key=lambda n: int(n[5:-4]))
        return int(name[5:-4]), os.path.join(folder, name)

    def planned_steps(self) -> int | None:
        """The G updates the run was started for (train.steps), or None where its record does not say."""
        try:
            return int(self._get("train", "steps", default=None))
        except (TypeError, ValueError):
            return None

    @property
    def finished(self) -> bool:
        """Whether the run reached its train.steps: a sweep still running, or stopped, has unfinished runs whose last
        values are not final values."""
        planned = self.planned_steps()
        return planned is None or self.last_step() >= planned


def _load_config(run: RunFolder) -> dict | None:
    """A run's config from its own records: run.yaml (written once, when the run started), else its newest readable
    checkpoint, else (runs of sngan < 0.2) Hydra's .hydra/config.yaml."""
    from omegaconf import OmegaConf

    if os.path.exists(run.record):
        return OmegaConf.to_container(OmegaConf.load(run.record), resolve=False)
    from ...run.checkpoints import CheckpointError, load_checkpoint

    for path in list_checkpoints(run.root):
        try:
            return load_checkpoint(path)["config"]
        except CheckpointError:  # a torn or corrupt checkpoint: try the older one
            continue
    if os.path.exists(run.hydra_config):
        cfg = OmegaConf.load(run.hydra_config)
        if "run_dir" in cfg:  # ${hydra:...} resolves only inside a Hydra run
            del cfg["run_dir"]
        return OmegaConf.to_container(cfg, resolve=True)
    return None


def _protocol_text(protocol) -> str:
    if isinstance(protocol, dict):
        return "; ".join(f"{k}={v}" for k, v in protocol.items())
    return str(protocol)


def _flat_items(protocol, prefix: str = "") -> dict[str, str]:
    """A protocol record as {dotted key: value text}, nested dicts opened (memorization.generated, ...)."""
    if not isinstance(protocol, dict):
        return {prefix or "protocol": str(protocol)}
    out = {}
    for k, v in protocol.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        out.update(_flat_items(v, key) if isinstance(v, dict) and v else {key: str(v)})
    return out


def _protocol_items(records: list[dict]) -> dict[str, dict[str, str]]:
    """Per metric tag, the flattened protocol of its last evaluation (metrics.jsonl)."""
    out = {}
    for rec in records:
        if "protocol" in rec:
            for tag in rec.get("metrics") or {}:
                out[tag] = _flat_items(rec["protocol"])
    return out


def _class_shares(records: list[dict]) -> tuple[int, list[float]] | None:
    """(step, shares) of the last metrics.jsonl record that holds the share of each class (sngan.metrics.classes)."""
    last = [r for r in records if r.get("class_shares")]
    return (int(last[-1].get("step", 0)), [float(v) for v in last[-1]["class_shares"]]) if last else None


def _protocols(records: list[dict], run: "Run") -> dict[str, str]:
    """Per metric tag, how its number was made: metrics.jsonl's protocol records where there are any,
    the 2-D benchmark's definition for its metrics, else the tag and step it was read from."""
    out, config, final = {}, run.config, run.final()
    for rec in records:
        if "protocol" not in rec:
            continue
        text = _protocol_text(rec["protocol"])
        for tag in rec.get("metrics") or {}:  # sngan.metrics.fidelity: {"step", "metrics": {tag: value}, "protocol"}
            out[tag] = text
    dataset = run.dataset
    modes = ((config.get("metrics") or {}).get("modes") or {}) if isinstance(config, dict) else {}
    for tag, (step, _) in final.items():
        if tag in out:
            continue
        if dataset.points and tag in ("metrics/modes", "metrics/high_quality", "metrics/kl_modes"):
            out[tag] = (f"2-D {dataset.name}: {modes.get('num_samples', '?')} generated points, "
                        f"high quality = within 3 std of the nearest mode, mode covered with >= "
                        f"{modes.get('min_count', '?')} such points; kl_modes = reverse KL of the high-quality points' "
                        f"mode histogram from the uniform one (PacGAN Table 1) (step {step})")
        else:
            out[tag] = f"scalars.jsonl tag {tag} at step {step} (no protocol record)"
    return out


def config_value(config: dict, key: str):
    """The value at a dotted key of a plain config, or None."""
    node = config
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def find_runs(dirs: list[str], by: tuple[str, ...] = ()) -> list[Run]:
    """Every run folder under the given folders, sorted by (group, method, setting, path); `by` adds the values of
    these dotted config keys to each run's row label (e.g. optim.d_forward), so runs differing there are kept apart."""
    runs = []
    for top in dirs:
        if not os.path.isdir(top):
            raise UserError(f"{top} is not a folder: pass a run folder or a `sngan train -m` sweep folder")
        for root, subdirs, files in os.walk(top):
            subdirs[:] = sorted(d for d in subdirs if d not in ("tb", "checkpoints", "samples", ".hydra"))
            if "scalars.jsonl" not in files:
                continue
            folder = RunFolder(root)
            config = _load_config(folder)
            if config is None:
                raise UserError(f"{root} has scalars.jsonl but no run.yaml or checkpoint: "
                                f"cannot tell its norm and setting; remove it or restore its config")
            spectra = read_jsonl(folder.spectra)
            run = Run(root, config, read_jsonl(folder.scalars), spectra[-1] if spectra else None,
                      next((r for r in spectra if r.get("step") == 0), None))
            metrics = read_jsonl(folder.metrics)  # read once: protocols, evaluation time, real-data scores
            run.protocols = _protocols(metrics, run)
            run.protocol_items = _protocol_items(metrics)
            run.class_shares = _class_shares(metrics)
            run.eval_seconds = sum(float(r.get("seconds") or 0.0) for r in metrics)
            reals = [r for r in metrics if r.get("real")]
            run.real = {k: v for k, v in reals[-1]["real"].items() if k.startswith("metrics/")} if reals else {}
            runs.append(run)
    if not runs:
        raise UserError(f"no run folders (with scalars.jsonl) under {', '.join(dirs)}: "
                        f"pass the folder `sngan train` or `sngan train -m` wrote")
    label_methods(runs, by)
    return sorted(runs, key=lambda r: (r.group, method_key(r.method), setting_key(r.setting), r.path))


def label_methods(runs: list[Run], by: tuple[str, ...] = ()) -> None:
    """Name each run's row `norm`, or `norm (loss)` where its loss is not the most common one of its group
    (e.g. `gp (wgan)` beside `none`, `wc`, `sn` trained with bce), followed by ` [key=value, ...]` for the `by` keys."""
    for group in {r.group for r in runs}:
        losses = Counter(r.loss for r in runs if r.group == group)
        usual = min(losses, key=lambda loss: (-losses[loss], loss))
        for r in runs:
            if r.group == group:
                r.method = r.norm if r.loss == usual else f"{r.norm} ({r.loss})"
                if by:
                    r.method += " [" + ", ".join(f"{k}={config_value(r.config, k)}" for k in by) + "]"


def paper_layer_names(layers: list[str], arch: str) -> dict[str, str]:
    """Log names of D's layers (main.00, ..., fc) -> the paper's (conv1 ... conv7, fc) for the standard CNN, layer1 ...
    for the 2-D MLP; other architectures keep their module paths (the paper has no names for them)."""
    if arch == "dcgan":
        convs = [name for name in layers if name != "fc"]
        return {**{name: f"conv{i}" for i, name in enumerate(convs, 1)}, "fc": "fc"}
    if arch == "mlp":
        return {name: f"layer{i}" for i, name in enumerate(layers, 1)}
    return {name: name for name in layers}


def method_key(method: str):
    norm, _, loss = method.partition(" ")
    return norm_key(norm), loss


def norm_key(norm: str):
    return (NORM_ORDER.index(norm), "") if norm in NORM_ORDER else (len(NORM_ORDER), norm)


def setting_key(setting: str):
    return (SETTING_ORDER.index(setting), "") if setting in SETTING_ORDER else (len(SETTING_ORDER), setting)
