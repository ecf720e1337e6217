"""Metrics, one registry entry each (registry.py), with its own schedule key metrics.every.<name>:
sigma (D's sigma, Lipschitz and spectra diagnostics), modes (2-D mixtures), fidelity (IS/FID/KID through
torch-fidelity on Inception or classifier features), prc (precision and recall, off by default)."""
from . import sigma, modes, fidelity  # noqa: F401,I001  (each registers its entry, in this order)
from .registry import METRICS, MetricRunner, register_metric

__all__ = ["METRICS", "MetricRunner", "register_metric"]
