"""A small CNN trained once on a labeled dataset (digits, MNIST, ...), used as the feature extractor of a
classifier-based IS and FID when no Inception network is wanted. Cached per (dataset, resolution,
channels, seed); its held-out accuracy travels with the weights and with every number it produces."""
from __future__ import annotations

import os
import sys

import torch
import torch.nn.functional as F
from torch import nn
from torch_fidelity.feature_extractor_base import FeatureExtractorBase
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY, register_feature_extractor

from ..data import streams
from ..data.images import load_images, to_float
from ..errors import ConfigError
from .cache import cache_dir

EXTRACTOR = "sngan-classifier"
TRAIN_STEPS = 600      # Adam steps of batch 64: ~27 epochs of sklearn digits, ~0.6 of MNIST
RECIPE = "v1"           # bump when the net or its training changes: old cached classifiers are not reused
HOLDOUT = 0.2          # share of a dataset without a test split kept for measuring accuracy


class DigitNet(nn.Module):
    """conv 3x3 (w) -> conv s2 (2w) -> conv s2 (4w) -> global average -> dense (feature_dim features) -> classes."""

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


def classifier_path(dataset, seed: int) -> str:
    d = dataset
    return os.path.join(cache_dir("classifiers"), f"{d.name}-{d.resolution}px-{d.channels}ch-seed{seed}-{RECIPE}.pt")


def check_classifier_dataset(dataset) -> None:
    """ConfigError (one line) when no classifier can be trained for this dataset; reads no data."""
    if dataset.num_classes < 2:
        raise ConfigError(f"the classifier metrics need class labels, and {dataset.name} has none: "
                          f"pass metrics.extractor=inception")
    if dataset.name == "imagenet":
        raise ConfigError("a classifier for imagenet is out of scope here: pass metrics.extractor=inception")


def _splits(dataset, seed: int):
    """(train images, train labels, test images, test labels) as uint8 / int64 tensors."""
    check_classifier_dataset(dataset)
    if dataset.name == "digits":  # one set of 1,797 images: hold out a fixed share
        data = load_images(dataset)
        perm = torch.randperm(len(data), generator=streams.generator(seed, streams.CLASSIFIER_HOLDOUT))
        n_test = int(len(data) * HOLDOUT)
        test, train = perm[:n_test], perm[n_test:]
        return data.images[train], data.labels[train], data.images[test], data.labels[test]
    train, test = load_images(dataset, "train"), load_images(dataset, "test")
    return train.images, train.labels, test.images, test.labels


@torch.no_grad()
def accuracy(net: DigitNet, images: torch.Tensor, labels: torch.Tensor) -> float:
    net.eval()
    correct = sum((net(to_float(x))[1].argmax(1) == y).sum().item()
                  for x, y in zip(images.split(1000), labels.split(1000)))
    return correct / len(labels)


def train_classifier(dataset, seed: int, steps: int = TRAIN_STEPS, batch_size: int = 64) -> dict:
    """Train on the train split; returns {'state_dict', 'meta'} with the held-out accuracy in meta."""
    x_tr, y_tr, x_te, y_te = _splits(dataset, seed)
    num_classes = int(dataset.num_classes)
    with torch.random.fork_rng(devices=[]):  # leave the caller's RNG stream untouched
        torch.manual_seed(seed)
        net = DigitNet(x_tr.shape[1], num_classes)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
        g = streams.generator(seed, streams.CLASSIFIER_BATCHES)
        net.train()
        for _ in range(steps):
            idx = torch.randint(len(x_tr), (batch_size,), generator=g)
            x = to_float(x_tr[idx])
            loss = F.cross_entropy(net(x)[1], y_tr[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    meta = {"dataset": str(dataset.name), "resolution": int(dataset.resolution),
            "channels": int(x_tr.shape[1]), "num_classes": num_classes, "seed": int(seed),
            "train_size": len(y_tr), "test_size": len(y_te), "test_accuracy": accuracy(net, x_te, y_te)}
    return {"state_dict": net.state_dict(), "meta": meta}


def ensure_classifier(dataset, seed: int = 0) -> tuple[str, dict]:
    """The cached classifier's path and meta, training and caching it on first use."""
    path = classifier_path(dataset, seed)
    if not os.path.isfile(path):
        state = train_classifier(dataset, seed)
        tmp = f"{path}.tmp{os.getpid()}"
        torch.save(state, tmp)
        os.replace(tmp, path)
        m = state["meta"]
        print(f"trained the {m['dataset']} classifier for metrics: held-out accuracy {m['test_accuracy']:.4f} "
              f"on {m['test_size']} images ({path})", file=sys.stderr)
    return path, torch.load(path, map_location="cpu", weights_only=True)["meta"]


def load_classifier(path: str) -> tuple[DigitNet, dict]:
    state = torch.load(path, map_location="cpu", weights_only=True)
    m = state["meta"]
    net = DigitNet(m["channels"], m["num_classes"])
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
