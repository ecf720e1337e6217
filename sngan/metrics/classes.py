"""Which classes does the generator make? The domain classifier (metrics/classifier.py, the one behind IS/FID/KID
of a labelled dataset) labels num_samples generated images; the shares per class show a lost class where FID
only grows:

- metrics/class_share_min, metrics/class_share_max: the rarest and the commonest class's share (uniform: 1/K);
- metrics/classes_missing: classes with less than a tenth of the uniform share (the 2-D mode count's analogue);
- metrics/class_kl: KL divergence of the share histogram from uniform (0: every class equally often; log K: one);
- metrics/class_agreement (conditional G only): the share of images the classifier gives the label G was asked for.

Every evaluation's full histogram goes to metrics.jsonl with the classifier's held-out accuracy, which bounds how
far the shares can be trusted. Registered as `classes`, on by default wherever the classifier is the fidelity
extractor (metrics.classes.enabled: auto).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..data import streams
from ..data.images import to_float, to_uint8
from ..errors import ConfigError
from ..gan.generate import Latents, generate
from . import classifier
from .fidelity import FidelityOptions, extractor_kind, parse_fidelity
from .registry import Metric, MetricContext, register_metric

ENABLED = ("auto", "true", "false")
MISSING_SHARE = 0.1  # a class counts as missing below this fraction of the uniform share 1/K


@dataclass(frozen=True)
class ClassesOptions:
    enabled: str | bool           # auto (on where the classifier measures IS/FID/KID), true, false
    num_samples: int              # generated images labelled per evaluation
    seed: int                     # their noise (and labels, for a conditional G)


@dataclass(frozen=True)
class ClassCoverageOptions:
    """The entry's own keys (metrics.classes) and the group's keys that pick and train the classifier."""

    own: ClassesOptions
    fidelity: FidelityOptions


def class_shares(predicted: torch.Tensor, num_classes: int) -> torch.Tensor:
    """The share of each class among the predicted labels (sums to 1)."""
    return torch.bincount(predicted, minlength=num_classes).double() / max(len(predicted), 1)


def coverage_values(shares: torch.Tensor) -> dict[str, float]:
    """The scalars of a share histogram: min, max, classes missing, KL from uniform (natural log)."""
    k = len(shares)
    nonzero = shares[shares > 0]
    return {"metrics/class_share_min": float(shares.min()),
            "metrics/class_share_max": float(shares.max()),
            "metrics/classes_missing": float((shares < MISSING_SHARE / k).sum()),
            "metrics/class_kl": float((nonzero * (nonzero * k).log()).sum())}


@torch.no_grad()
def class_coverage(G, shape, net, num_classes: int, options: ClassesOptions, device: torch.device):
    """(scalars, per-class shares) of num_samples images of G labelled by the classifier `net` (on the CPU)."""
    latents = Latents(options.seed, shape.z_dim, shape.num_classes, shape.latent)
    z = latents.noise(options.num_samples, "cpu", streams.CLASSES)
    y = latents.labels(options.num_samples, "cpu", streams.CLASSES)
    # the classifier sees what IS/FID/KID see: G's images as uint8, then back in [-1, 1]
    images = to_float(to_uint8(generate(G, z, y, device)))
    predicted = torch.cat([net(images[i:i + 1000])[1].argmax(1) for i in range(0, len(images), 1000)])
    shares = class_shares(predicted, num_classes)
    values = coverage_values(shares)
    if y is not None:
        values["metrics/class_agreement"] = float((predicted == y).double().mean())
    return values, shares


def wanted(dataset, options: ClassCoverageOptions) -> bool:
    """Whether the class shares are measured for this dataset (one-line ConfigError when asked for and impossible)."""
    value = str(options.own.enabled).lower()
    if value == "false" or not options.fidelity.enabled or dataset.points:
        return False
    if value == "true" or extractor_kind(dataset, options.fidelity) == "classifier":
        classifier.check_classifier_dataset(dataset)  # the one-line reason it cannot run
        return True
    return False


def load_classifier(dataset, options: ClassCoverageOptions):
    """The dataset's cached classifier (trained on first use) and its meta."""
    f = options.fidelity
    path, _ = classifier.ensure_classifier(dataset, f.classifier_seed, f.classifier_recipe, f.classifier_holdout,
                                           f.classifier_min_accuracy)
    return classifier.load_classifier(path)


def measure(G, shape, net, meta: dict, options: ClassCoverageOptions, device, generator_name: str) -> tuple[dict, dict]:
    """(scalars, record fields: per-class shares and protocol) for G, labelled by the classifier (net, meta)."""
    values, shares = class_coverage(G, shape, net, meta["num_classes"], options.own, device)
    protocol = {"generated": options.own.num_samples, "generator": generator_name,
                "classifier_test_accuracy": meta["test_accuracy"], "missing_below": MISSING_SHARE,
                "class_kl_of_one_class": math.log(len(shares))}
    return values, {"class_shares": [round(float(s), 6) for s in shares], "protocol": {"classes": protocol}}


def parse_classes(metrics_node) -> ClassCoverageOptions:
    from ..options import parse

    own = parse(ClassesOptions, metrics_node.get("classes"), "metrics.classes")
    if str(own.enabled).lower() not in ENABLED:
        raise ConfigError(f"metrics.classes.enabled must be auto, true or false, got {own.enabled!r}")
    if own.num_samples < 1:
        raise ConfigError(f"metrics.classes.num_samples must be >= 1, got {own.num_samples}")
    return ClassCoverageOptions(own, parse_fidelity(metrics_node))


@register_metric("classes")
class ClassCoverage(Metric):
    node = "classes"
    Options = ClassCoverageOptions
    parse_options = staticmethod(parse_classes)

    @classmethod
    def applies(cls, env, options) -> bool:
        return wanted(env.dataset, options)

    def __init__(self, env, options):
        super().__init__(env, options)
        self.classifier = None  # (net, meta), loaded at the first evaluation: its data digest is computed once

    def __call__(self, ctx: MetricContext) -> dict[str, float]:
        if self.classifier is None:
            self.classifier = load_classifier(self.env.dataset, self.options)
        values, fields = measure(ctx.G, self.env.shape, *self.classifier, self.options, self.device,
                                 ctx.generator_name)
        ctx.run.append_jsonl(ctx.run.metrics, {"step": int(ctx.step), "metrics": values, **fields})
        return values
