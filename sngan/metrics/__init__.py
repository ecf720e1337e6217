"""Metrics, one registry entry each (registry.py), with its own options and schedule key metrics.every.<name>:
sigma (D's sigma, Lipschitz and spectra diagnostics), sigma_normalized (sigma(W_bar) per D layer, densely), modes (2-D mixtures), fidelity (IS/FID/KID through
torch-fidelity on Inception or classifier features), prc (precision and recall, off by default), memorization
(nearest training images of generated ones), classes (the share of each class among generated images).
Importing the package registers them; runner.py runs them."""
from . import sigma, modes, image_quality, memorization, classes  # noqa: F401,I001  (each registers its entries, in this order)
from .registry import METRICS, Metric, MetricContext, MetricEnv, register_metric
from .runner import MetricRunner, plan_metrics

__all__ = ["METRICS", "Metric", "MetricContext", "MetricEnv", "MetricRunner", "plan_metrics", "register_metric"]
