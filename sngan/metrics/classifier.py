"""The domain classifier: a small CNN trained once on a labelled dataset's own train split (digits, MNIST,
Fashion-MNIST, a folder with class sub-folders), whose features and logits give IS/FID/KID where Inception is not
wanted or not fitting (grayscale, 28 px garments). Its held-out accuracy travels with the weights and with every
number it produces; below metrics.classifier_min_accuracy a warning line says the numbers are weak.

The cache is keyed by the data itself: a digest of the train and held-out images and labels, resolution, channels,
recipe and seed names the file and is checked when it is loaded, so two datasets (two folders of one name, MNIST and
Fashion-MNIST under one root) never share a classifier.

Recipes (metrics.classifier_recipe), each a fixed net and training schedule:
- v1: conv 3x3 (16) -> conv s2 (32) -> conv s2 (64) -> global average -> dense 64 (features) -> classes; 600 Adam
  steps of 64. The embedded digits' classifier since sngan 0.1 (97% held out), kept so their numbers stay
  comparable; on Fashion-MNIST it reaches only about 84%.
- v2: [conv 3x3, ReLU, max-pool 2] x 2 (32, 64) -> dense 128 (features) -> classes; 3 epochs (at least 600
  steps) of 64 with a one-cycle lr up to 3e-3: 91.9% on Fashion-MNIST in about 2 minutes on 2 CPU cores.
"""
from __future__ import annotations

import hashlib
import math
import os
import sys
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch_fidelity.feature_extractor_base import FeatureExtractorBase
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY, register_feature_extractor

from ..data import streams
from ..data.images import held_in_memory, load_images, to_float
from ..data.readers import has_test_split
from ..errors import ConfigError, DataError
from ..fsutil import atomic_write
from .cache import cache_dir

EXTRACTOR = "sngan-classifier"


class DigitNet(nn.Module):
    """Recipe v1: conv 3x3 (w) -> conv s2 (2w) -> conv s2 (4w) -> global average -> dense (feature_dim) -> classes."""

    def __init__(self, channels: int, num_classes: int, width: int = 16, feature_dim: int = 64):
        super().__init__()
        w = width
        self.body = nn.Sequential(
            nn.Conv2d(channels, w, 3, 1, 1), nn.ReLU(),
            nn.Conv2d(w, 2 * w, 3, 2, 1), nn.ReLU(),
            nn.Conv2d(2 * w, 4 * w, 3, 2, 1), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4 * w, feature_dim))
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(feature_dim, num_classes))

    def forward(self, x):
        features = self.body(x)
        return features, self.head(features)


class PoolNet(nn.Module):
    """Recipe v2: [conv 3x3, ReLU, max-pool 2] x 2 (w, 2w) -> dense (feature_dim) -> classes: the spatial layout
    survives to the dense layer, which garments need (a global average loses it)."""

    def __init__(self, channels: int, num_classes: int, resolution: int, width: int = 32, feature_dim: int = 128):
        super().__init__()
        w = width
        self.body = nn.Sequential(
            nn.Conv2d(channels, w, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(w, 2 * w, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(2 * w * (resolution // 4) ** 2, feature_dim))
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(feature_dim, num_classes))

    def forward(self, x):
        features = self.body(x)
        return features, self.head(features)


@dataclass(frozen=True)
class Recipe:
    name: str
    net: Callable[[int, int, int], nn.Module]   # (channels, classes, resolution) -> net
    epochs: float                               # passes over the train split ...
    min_steps: int                              # ... but at least this many Adam steps
    batch_size: int
    max_lr: float                               # one-cycle peak


RECIPES = {
    "v1": Recipe("v1", lambda c, k, r: DigitNet(c, k), epochs=0, min_steps=600, batch_size=64, max_lr=3e-3),
    "v2": Recipe("v2", lambda c, k, r: PoolNet(c, k, r), epochs=3, min_steps=600, batch_size=64, max_lr=3e-3),
}
AUTO_RECIPES = {"digits": "v1"}  # recipe=auto: v1 for the digits (their published numbers), v2 for the rest
RECIPE_CHOICES = ("auto", *RECIPES)


def recipe_for(dataset, choice: str) -> Recipe:
    if choice not in RECIPE_CHOICES:
        raise ConfigError(f"unknown metrics.classifier_recipe '{choice}': choose one of {', '.join(RECIPE_CHOICES)}")
    return RECIPES[AUTO_RECIPES.get(dataset.format, "v2") if choice == "auto" else choice]


def check_classifier_dataset(dataset) -> None:
    """ConfigError (one line) when no classifier can be trained for this dataset; reads no data."""
    if not dataset.labelled:
        raise ConfigError(f"the classifier metrics need class labels, and {dataset.name} has none: pass "
                          f"metrics.extractor=inception (or give the folder one sub-folder per class)")
    if dataset.in_memory is False:
        raise ConfigError(f"the classifier metrics train on images held in memory, and {dataset.name} is read per "
                          f"batch (dataset.in_memory=false): pass dataset.in_memory=auto, or metrics.extractor=inception")
    if dataset.resolution % 4:
        raise ConfigError(f"the classifier metrics need dataset.resolution divisible by 4, got {dataset.resolution}: "
                          f"pass metrics.extractor=inception or another resolution")


@dataclass
class Splits:
    """The classifier's train images and labels and its held-out ones (uint8 / int64 tensors), and which is which."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    held_out: str           # "test split" or "20% of train, seeded"


def _in_memory(dataset, split: str):
    data = load_images(dataset, split)
    if not held_in_memory(data):
        raise DataError(f"the classifier metrics need {dataset.name} in memory, and it is larger than "
                        f"dataset.memory_budget_gb={dataset.memory_budget_gb:g}: raise it, or pass "
                        f"metrics.extractor=inception")
    return data


def holdout_indices(n: int, seed: int, share: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(train, held-out) indices of a dataset without a test split: a fixed seeded share held out."""
    perm = torch.randperm(n, generator=streams.generator(seed, streams.CLASSIFIER_HOLDOUT))
    n_test = int(n * share)
    return perm[n_test:], perm[:n_test]


def classifier_splits(dataset, seed: int, holdout: float) -> Splits:
    check_classifier_dataset(dataset)
    if has_test_split(dataset):
        train, test = _in_memory(dataset, "train"), _in_memory(dataset, "test")
        return Splits(train.images, train.labels, test.images, test.labels, "test split")
    data = _in_memory(dataset, "train")
    train, test = holdout_indices(len(data), seed, holdout)
    return Splits(data.images[train], data.labels[train], data.images[test], data.labels[test],
                  f"{holdout:.0%} of the images, seeded")


def data_digest(splits: Splits, dataset, recipe: Recipe, seed: int) -> str:
    """sha256 of what the classifier is made from: the images and labels on both sides, their shape, recipe, seed."""
    h = hashlib.sha256(f"{recipe.name}|{seed}|{dataset.resolution}|{dataset.channels}|{dataset.num_classes}".encode())
    for t in (splits.x_train, splits.y_train, splits.x_test, splits.y_test):
        h.update(str(tuple(t.shape)).encode())
        h.update(t.contiguous().numpy().tobytes())
    return h.hexdigest()


@torch.no_grad()
def accuracy(net: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    net.eval()
    correct = sum((net(to_float(x))[1].argmax(1) == y).sum().item()
                  for x, y in zip(images.split(1000), labels.split(1000)))
    return correct / len(labels)


def train_classifier(splits: Splits, dataset, recipe: Recipe, seed: int) -> dict:
    """Train on the train split; returns {'state_dict', 'meta'} with the held-out accuracy in meta."""
    x_tr, y_tr = splits.x_train, splits.y_train
    steps = max(recipe.min_steps, math.ceil(recipe.epochs * len(x_tr) / recipe.batch_size))
    num_classes = int(dataset.num_classes)
    with torch.random.fork_rng(devices=[]):  # leave the caller's RNG stream untouched
        torch.manual_seed(seed)
        net = recipe.net(x_tr.shape[1], num_classes, dataset.resolution)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=recipe.max_lr, total_steps=steps)
        g = streams.generator(seed, streams.CLASSIFIER_BATCHES)
        net.train()
        for _ in range(steps):
            idx = torch.randint(len(x_tr), (recipe.batch_size,), generator=g)
            loss = F.cross_entropy(net(to_float(x_tr[idx]))[1], y_tr[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    meta = {"dataset": str(dataset.name), "resolution": int(dataset.resolution),
            "channels": int(x_tr.shape[1]), "num_classes": num_classes, "seed": int(seed), "recipe": recipe.name,
            "steps": steps, "train_size": len(y_tr), "test_size": len(splits.y_test), "held_out": splits.held_out,
            "test_accuracy": accuracy(net, splits.x_test, splits.y_test)}
    return {"state_dict": net.state_dict(), "meta": meta}


def classifier_path(dataset, recipe: Recipe, seed: int, digest: str) -> str:
    d = dataset
    return os.path.join(cache_dir("classifiers"),
                        f"{d.name}-{d.resolution}px-{d.channels}ch-{recipe.name}-seed{seed}-{digest[:16]}.pt")


def _cached_meta(path: str, digest: str) -> dict | None:
    """The meta of a cached classifier made from exactly this data, else None (absent, unreadable, other data)."""
    if not os.path.isfile(path):
        return None
    try:
        meta = torch.load(path, map_location="cpu", weights_only=True)["meta"]
    except Exception:  # torn or foreign file: made again
        return None
    return meta if meta.get("data_digest") == digest else None


def ensure_classifier(dataset, seed: int, recipe: str, holdout: float, min_accuracy: float) -> tuple[str, dict]:
    """The cached classifier's path and meta for exactly this data, training and caching it on first use."""
    chosen = recipe_for(dataset, recipe)
    splits = classifier_splits(dataset, seed, holdout)
    digest = data_digest(splits, dataset, chosen, seed)
    path = classifier_path(dataset, chosen, seed, digest)
    meta = _cached_meta(path, digest)
    if meta is None:
        print(f"training the {dataset.name} classifier for the metrics (recipe {chosen.name}, "
              f"{len(splits.y_train)} images; once, then cached)", file=sys.stderr)
        state = train_classifier(splits, dataset, chosen, seed)
        state["meta"]["data_digest"] = digest
        atomic_write(path, lambda f: torch.save(state, f))
        meta = state["meta"]
        print(f"trained the {dataset.name} classifier: held-out accuracy {meta['test_accuracy']:.4f} on "
              f"{meta['test_size']} images ({meta['held_out']}; {path})", file=sys.stderr)
    if meta["test_accuracy"] < min_accuracy:
        print(f"warning: the {dataset.name} classifier reaches {meta['test_accuracy']:.1%} held-out accuracy, below "
              f"metrics.classifier_min_accuracy={min_accuracy:.0%}: its IS/FID/KID separate the classes poorly "
              f"(try metrics.classifier_recipe=v2)", file=sys.stderr)
    return path, meta


def load_classifier(path: str) -> tuple[nn.Module, dict]:
    state = torch.load(path, map_location="cpu", weights_only=True)
    m = state["meta"]
    net = RECIPES[m.get("recipe", "v1")].net(m["channels"], m["num_classes"], m["resolution"])
    net.load_state_dict(state["state_dict"])
    return net.eval(), m


class FeatureExtractorClassifier(FeatureExtractorBase):
    """torch-fidelity extractor: uint8 RGB in, ('features' for FID/KID, 'logits' for IS) out."""

    def __init__(self, name, features_list, feature_extractor_weights_path=None, **kwargs):
        super().__init__(name, features_list)
        if feature_extractor_weights_path is None:
            raise ValueError(f"{EXTRACTOR} needs feature_extractor_weights_path (a trained classifier file)")
        self.net, self.meta = load_classifier(feature_extractor_weights_path)
        self.requires_grad_(False)
        self.eval()

    @staticmethod
    def get_provided_features_list():
        return "features", "logits"

    @staticmethod
    def get_default_feature_layer_for_metric(metric):
        return {"isc": "logits", "fid": "features", "kid": "features", "prc": "features"}[metric]

    @staticmethod
    def can_be_compiled():
        return False

    @staticmethod
    def get_dummy_input_for_compile():
        return torch.zeros(1, 3, 32, 32, dtype=torch.uint8)

    def forward(self, x):
        assert torch.is_tensor(x) and x.dtype == torch.uint8 and x.dim() == 4 and x.shape[1] == 3, \
            f"expecting uint8 Bx3xHxW, got {x.dtype} {tuple(x.shape)}"
        x = x.float()
        if self.meta["channels"] == 1:
            x = x.mean(1, keepdim=True)  # the three channels are copies of one
        res = self.meta["resolution"]
        if x.shape[-1] != res or x.shape[-2] != res:
            x = F.interpolate(x, size=(res, res), mode="bilinear", antialias=True, align_corners=False)
        features, logits = self.net(x / 127.5 - 1.0)
        out = {"features": features.float(), "logits": logits.float()}
        return tuple(out[name] for name in self.features_list)


if EXTRACTOR not in FEATURE_EXTRACTORS_REGISTRY:
    register_feature_extractor(EXTRACTOR, FeatureExtractorClassifier)
