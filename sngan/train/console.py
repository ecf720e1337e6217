"""What a run prints: one start line, a line per metric evaluation, and an end summary naming what to do
next. Lines go through tqdm.write so the progress bar stays intact; rank 0 alone prints. In a sweep the
bar is off and each job prints its end line only."""
from __future__ import annotations

from tqdm import tqdm


def count(n: int) -> str:
    return f"{n / 1e6:.2f}M" if n >= 1e6 else f"{n / 1e3:.1f}k"


def params(module) -> int:
    return sum(p.numel() for p in module.parameters())


class Console:
    def __init__(self, enabled: bool = True, sweep: bool = False):
        self.enabled, self.sweep = enabled, sweep

    def line(self, text: str, always: bool = False) -> None:
        if self.enabled and (always or not self.sweep):
            tqdm.write(text)

    def start(self, run_dir: str, device, dataset: str, data_size: int | None, resolution, G, D, norm: str,
              setting: str, loss: str, step: int, steps: int) -> None:
        data = f"{dataset} ({data_size} images, {resolution} px)" if data_size else dataset
        where = f"from step {step} to {steps}" if step else f"{steps} G updates"
        if self.sweep:  # one line per job, so a sweep is never silent until its first job ends
            self.line(f"start: {run_dir} ({where}, device {device})", always=True)
            return
        self.line(f"sngan train: {where} | run folder {run_dir} | device {device} | data {data} | "
                  f"G {count(params(G))} params, D {count(params(D))} | norm {norm}, loss {loss}, setting {setting}")

    def metrics(self, step: int, values: dict, references: dict | None = None) -> None:
        shown = {k: v for k, v in values.items() if k.startswith("metrics/") and not k.endswith("_std")}
        if not shown:
            return
        refs = references or {}
        parts = [f"{k[len('metrics/'):]} {v:.4g}" + (f" (real {refs[k]:.4g})" if k in refs else "")
                 for k, v in shown.items()]
        self.line(f"step {step}: " + ", ".join(parts))

    def end(self, run_dir: str, step: int, final: dict, best: dict | None, references: dict | None,
            has_checkpoint: bool, rerun=None) -> None:
        refs = references or {}
        shown = {k[len("metrics/"):]: v for k, v in final.items() if k.startswith("metrics/") and not k.endswith("_std")}
        scores = ", ".join(f"{k} {v:.4g}" + (f" (real {refs['metrics/' + k]:.4g})" if "metrics/" + k in refs else "")
                           for k, v in shown.items())
        if self.sweep:
            self.line(f"done: {run_dir} at step {step}" + (f": {scores}" if scores else ""), always=True)
            return
        lines = [f"sngan train: done at step {step}" + (f": {scores}" if scores else "")]
        if best:
            lines.append(f"  best {best['metric'][len('metrics/'):]} {best['value']:.4g} at step {best['step']} "
                         f"(checkpoints/best.pt)")
        lines.append(f"  run folder: {run_dir}")
        lines.append(f"  curves:     tensorboard --logdir {run_dir}/tb")
        if has_checkpoint:
            which = f"{run_dir}:best" if best else run_dir
            lines.append(f"  samples:    sngan sample ckpt={which} n=64 out=samples.png")
        if rerun is not None and rerun.known and has_checkpoint:  # rerun: sngan.run.rerun.Rerun
            lines.append(f"  extend:     {rerun.extend(step)}")
        self.line("\n".join(lines))
