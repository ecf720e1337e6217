"""The registered image-quality metrics that run during training: `fidelity` (IS/FID/KID) and `prc` (precision
and recall), each evaluation written with its protocol and the real-data reference to <run>/metrics.jsonl.
The computation itself is the library in metrics/fidelity.py (shared with `sngan eval`)."""
from __future__ import annotations

import dataclasses
import json
import time

from . import classifier
from .fidelity import compute_metrics, extractor_kind, parse_fidelity, reference_for, resolve_inception, resolve_spec
from .reference import real_reference
from .registry import Metric, MetricContext, register_metric


@register_metric("fidelity")
class FidelityMetrics(Metric):
    """IS/FID/KID of the generator every metrics.every.fidelity G updates. metrics.enabled=false turns it off (no
    Inception weights needed)."""

    flags = {"prc": False}  # which of metrics.isc/fid/kid/prc this entry overrides
    parse_options = staticmethod(parse_fidelity)  # the metrics group's own keys

    @classmethod
    def applies(cls, env, options) -> bool:
        return options.enabled and extractor_kind(env.dataset, options) is not None

    def __init__(self, env, options):
        super().__init__(env, dataclasses.replace(options, **self.flags))
        self.kind = kind = extractor_kind(env.dataset, self.options)
        # Checked now, so a run never trains for hours and then fails to measure: Inception weights, or a
        # dataset the classifier can be trained on (the training itself waits for the first evaluation).
        self.spec = resolve_inception(self.options) if kind == "inception" else None
        if kind == "classifier":
            classifier.check_classifier_dataset(env.dataset)  # config only: every rank refuses alike under torchrun
        self.reference = None
        self.real = None  # what real images score under the same protocol (metrics/reference.py)
        self.protocol_logged = False

    def __call__(self, ctx: MetricContext) -> dict[str, float]:
        o = self.options
        if self.spec is None:
            self.spec = resolve_spec(self.env.dataset, o)
        if self.reference is None:
            self.reference = reference_for(self.env.dataset, o, self.kind)
        if self.real is None and o.real_reference:
            self.real = real_reference(self.reference, self.spec, o, self.device)
        start = time.perf_counter()
        scalars, protocol = compute_metrics(ctx.G, self.env.shape, o, self.spec, self.reference, o.num_samples,
                                            self.device, ctx.generator_name)
        record = {"step": int(ctx.step), "metrics": scalars, "protocol": protocol,
                  "seconds": round(time.perf_counter() - start, 3)}
        if self.real:
            record["real"] = self.real
        ctx.run.append_jsonl(ctx.run.metrics, record)
        if not self.protocol_logged:
            ctx.logger.text("metrics/protocol", "```\n" + json.dumps(protocol, indent=2) + "\n```")
            self.protocol_logged = True
        return scalars


@register_metric("prc")
class PrecisionRecall(FidelityMetrics):
    """Improved precision and recall (Kynkaanniemi et al. 2019; torch-fidelity's prc) of the generator against
    the reference split, every metrics.every.prc G updates when metrics.prc=true (off by default: k-NN over
    both feature sets costs more than FID)."""

    flags = {"isc": False, "fid": False, "kid": False, "prc": True}

    @classmethod
    def applies(cls, env, options) -> bool:
        return options.prc and FidelityMetrics.applies(env, options)
