"""The class-coverage metric: the share of each class among generated images, by the domain classifier."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from conftest import compose_train, dataset_of
from sngan.errors import ConfigError
from sngan.gan.archs import ModelShape
from sngan.metrics import METRICS
from sngan.metrics.classes import ClassesOptions, class_coverage, coverage_values, parse_classes, wanted


def test_uniform_shares_miss_nothing_and_one_class_misses_the_rest():
    uniform = coverage_values(torch.full((10,), 0.1, dtype=torch.float64))
    assert uniform == pytest.approx({"metrics/class_share_min": 0.1, "metrics/class_share_max": 0.1,
                                     "metrics/classes_missing": 0.0, "metrics/class_kl": 0.0})
    one = coverage_values(torch.tensor([0.0, 1.0, 0.0, 0.0], dtype=torch.float64))
    assert one["metrics/classes_missing"] == 3 and one["metrics/class_kl"] == pytest.approx(math.log(4))
    # a class at 2% of 10 (a fifth of uniform) is rare, not missing; at 0.5% it is missing
    rare = coverage_values(torch.tensor([0.02, 0.005] + [0.975 / 8] * 8, dtype=torch.float64))
    assert rare["metrics/classes_missing"] == 1 and rare["metrics/class_share_min"] == pytest.approx(0.005)


class SignGenerator(nn.Module):
    """Images whose every pixel is the sign of z's first entry, or (conditional) +1 for label 1 and -1 for 0."""

    def forward(self, z, y=None):
        value = torch.sign(z[:, :1]) if y is None else (2.0 * y.float() - 1).unsqueeze(1)
        return value.view(-1, 1, 1, 1).expand(-1, 1, 4, 4)


class BrightnessClassifier(nn.Module):
    """Class 1 for bright images, 0 for dark ones; a third class never predicted."""

    def forward(self, x):
        bright = (x.mean((1, 2, 3)) > 0).float()
        return x.flatten(1), torch.stack([1 - bright, bright, torch.full_like(bright, -1.0)], dim=1)


def test_shares_count_what_the_classifier_says_of_each_generated_image():
    shape = ModelShape(z_dim=8, latent="normal", resolution=4, channels=1, num_classes=0, points=False, dataset="toy")
    values, shares = class_coverage(SignGenerator(), shape, BrightnessClassifier(), 3,
                                    ClassesOptions("true", 4000, 0), torch.device("cpu"))
    assert shares.sum().item() == pytest.approx(1.0) and shares[2] == 0
    assert shares[0].item() == pytest.approx(0.5, abs=0.03)  # z's sign: half and half
    assert values["metrics/classes_missing"] == 1 and "metrics/class_agreement" not in values
    again, _ = class_coverage(SignGenerator(), shape, BrightnessClassifier(), 3, ClassesOptions("true", 4000, 0),
                              torch.device("cpu"))
    assert again == values  # seeded: the same images each evaluation


def test_a_conditional_generator_is_scored_on_the_labels_it_was_asked_for():
    shape = ModelShape(z_dim=8, latent="normal", resolution=4, channels=1, num_classes=2, points=False, dataset="toy")
    values, _ = class_coverage(SignGenerator(), shape, BrightnessClassifier(), 3, ClassesOptions("true", 500, 0),
                               torch.device("cpu"))
    assert values["metrics/class_agreement"] == 1.0


def test_on_wherever_the_classifier_measures_and_refused_in_one_line_where_it_cannot():
    assert "classes" in METRICS
    digits = compose_train([])
    assert wanted(dataset_of(digits), parse_classes(digits.metrics))
    off = compose_train(["metrics.enabled=false"])
    assert not wanted(dataset_of(off), parse_classes(off.metrics))
    points = compose_train(["dataset=ring8", "arch=mlp"])
    assert not wanted(dataset_of(points), parse_classes(points.metrics))
    cifar = compose_train(["dataset=cifar10"])  # Inception measures it: not by default, and no labels' classifier
    assert not wanted(dataset_of(cifar), parse_classes(cifar.metrics))
    with pytest.raises(ConfigError, match="metrics.classes.enabled must be auto, true or false"):
        parse_classes(compose_train(["metrics.classes.enabled=maybe"]).metrics)
