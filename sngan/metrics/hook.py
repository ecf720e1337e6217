"""Metrics inside the training loop: checked before training starts, run every `metrics.every` G updates
and at the end, each result written with its protocol to <run_dir>/metrics.jsonl."""
from __future__ import annotations

import json
import os
import time

import torch
from torch import nn

from .classifier import check_classifier_dataset
from .compute import RGBReference, compute_metrics, extractor_kind, resolve_inception, resolve_spec


class MetricHook:
    """hook(G, step, logger) -> {'metrics/...': value} when an evaluation is due, else {}."""

    def __init__(self, cfg, run_dir: str, device: torch.device):
        self.cfg, self.mcfg, self.run_dir, self.device = cfg, cfg.metrics, run_dir, device
        kind = extractor_kind(cfg.dataset, self.mcfg) if self.mcfg.enabled else None
        self.enabled = kind is not None
        self.every, self.last_step = int(self.mcfg.every), int(cfg.train.steps)
        # Checked now, so a run never trains for hours and then fails to measure: Inception weights, or a
        # dataset the classifier can be trained on (the training itself waits for the first evaluation).
        self.spec = resolve_inception(self.mcfg) if kind == "inception" else None
        if kind == "classifier":
            check_classifier_dataset(cfg.dataset)  # config only: every rank refuses alike under torchrun
        self.reference = None
        self.protocol_logged = False

    def due(self, step: int) -> bool:
        return self.enabled and (step % self.every == 0 or step == self.last_step)

    def __call__(self, G: nn.Module, step: int, logger=None, generator_name: str = "G") -> dict:
        if not self.due(step) or (logger is not None and not logger.enabled):
            return {}
        if self.spec is None:
            self.spec = resolve_spec(self.cfg.dataset, self.mcfg)
        if self.reference is None and (self.mcfg.fid or self.mcfg.kid):
            self.reference = RGBReference(self.cfg.dataset, str(self.mcfg.reference_split),
                                          self.mcfg.reference_size, int(self.mcfg.seed))
        start = time.perf_counter()
        scalars, protocol = compute_metrics(G, self.cfg, self.mcfg, self.spec, self.reference,
                                            int(self.mcfg.num_samples), self.device, generator_name)
        record = {"step": int(step), "metrics": scalars, "protocol": protocol,
                  "seconds": round(time.perf_counter() - start, 3)}
        with open(os.path.join(self.run_dir, "metrics.jsonl"), "a") as f:
            f.write(json.dumps(record) + "\n")
        if logger is not None and not self.protocol_logged:
            logger.text("metrics/protocol", "```\n" + json.dumps(protocol, indent=2) + "\n```")
            self.protocol_logged = True
        return scalars


def build_metric_hook(cfg, run_dir: str, device: torch.device) -> MetricHook:
    """The training loop's metrics; raises a one-line UserError now when Inception weights are missing or
    the classifier extractor cannot serve the dataset."""
    return MetricHook(cfg, run_dir, device)
