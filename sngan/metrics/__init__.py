"""IS, FID and KID through torch-fidelity: on Inception features, or on a small classifier trained on the
dataset's own labels (digits, MNIST) so that the embedded default needs no download.

Every number comes with its protocol (N generated, reference split and size, feature extractor and the
checksum of its weights); reference statistics are cached per (dataset, split, size, resolution,
extractor, weights checksum) in the project's cache folder.
"""
from .compute import MetricSpec, compute_metrics, resolve_spec
from .hook import build_metric_hook

__all__ = ["MetricSpec", "build_metric_hook", "compute_metrics", "resolve_spec"]
