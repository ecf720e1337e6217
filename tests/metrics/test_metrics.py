"""IS/FID/KID: the Fréchet formula against closed forms and scipy, the full torch-fidelity path on a random
Inception, the digits classifier's accuracy, conditional sampling, and the offline refusal."""
from __future__ import annotations

import os

import numpy as np
import pytest
import scipy.linalg
import torch
from torch import nn

from conftest import compose_train, dataset_of, fidelity_of, generator_for, shape_of
from sngan.metrics import classifier, inception

from sngan.metrics.fidelity import RGBReference, Uint8RGBGenerator, compute_metrics, resolve_spec


def frechet_distance(features_1: torch.Tensor, features_2: torch.Tensor) -> float:
    """FID on two (N, D) feature sets through the two torch-fidelity functions that calculate_metrics (and so
    sngan.metrics.fidelity) runs on the extracted features: the numbers the product reports."""
    from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_features_to_statistics, fid_statistics_to_metric

    stats_1 = fid_features_to_statistics(features_1.detach().cpu().float())
    stats_2 = fid_features_to_statistics(features_2.detach().cpu().float())
    return float(fid_statistics_to_metric(stats_1, stats_2, verbose=False)[KEY_METRIC_FID])


# ---- the Fréchet distance ---------------------------------------------------------------------
def exact_moments(n: int, mean: np.ndarray, cov_sqrt: np.ndarray, seed: int) -> torch.Tensor:
    """n samples whose sample mean and (unbiased) covariance are exactly mean and cov_sqrt @ cov_sqrt.T."""
    z = np.random.default_rng(seed).standard_normal((n, len(mean)))
    z -= z.mean(0)
    z = z @ np.linalg.inv(np.linalg.cholesky(np.cov(z, rowvar=False))).T  # whiten: sample cov = I
    return torch.from_numpy(z @ cov_sqrt.T + mean)


def test_frechet_matches_closed_form_between_gaussians():
    d = 6
    mu1, mu2 = np.zeros(d), np.linspace(-1, 2, d)
    s1, s2 = np.linspace(0.5, 3, d), np.linspace(2, 0.1, d)  # diagonal variances
    f1 = exact_moments(500, mu1, np.diag(np.sqrt(s1)), 0)
    f2 = exact_moments(700, mu2, np.diag(np.sqrt(s2)), 1)
    closed = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(s1) - np.sqrt(s2)) ** 2)
    assert frechet_distance(f1, f2) == pytest.approx(closed, rel=1e-4)


def test_frechet_matches_scipy_sqrtm_on_random_features():
    g = torch.Generator().manual_seed(0)
    f1 = torch.randn(400, 16, generator=g) @ torch.randn(16, 16, generator=g)
    f2 = torch.randn(300, 16, generator=g) * 2 + 0.5
    a, b = f1.double().numpy(), f2.double().numpy()
    m1, m2, c1, c2 = a.mean(0), b.mean(0), np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    ref = np.sum((m1 - m2) ** 2) + np.trace(c1 + c2 - 2 * scipy.linalg.sqrtm(c1 @ c2).real)
    assert ref > 1.0
    assert frechet_distance(f1, f2) == pytest.approx(ref, rel=1e-3)


def test_frechet_of_identical_features_is_zero():
    f = torch.randn(500, 32, generator=torch.Generator().manual_seed(3)) * 5
    assert abs(frechet_distance(f, f.clone())) < 1e-3
    assert frechet_distance(f, f + 1.0) == pytest.approx(32.0, rel=1e-3)  # a shift adds |delta mu|^2


# ---- the generator as torch-fidelity sees it --------------------------------------------------
class RecordingG(nn.Module):
    """A conditional 'generator' that remembers its labels and returns a gray image in [-1, 1]."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))
        self.seen = []

    def forward(self, z, y=None):
        self.seen.append(y)
        return torch.tanh(z[:, :1, None, None].expand(-1, 1, 8, 8) * self.scale)


def test_generator_wrapper_gives_uint8_rgb_and_uniform_labels():
    G = RecordingG()
    out = Uint8RGBGenerator(G, num_classes=10, seed=0, latent="normal")(torch.randn(4000, 4))
    assert out.dtype == torch.uint8 and out.shape == (4000, 3, 8, 8)
    assert torch.equal(out[:, 0], out[:, 1]) and torch.equal(out[:, 0], out[:, 2])  # gray repeated to RGB
    counts = torch.bincount(G.seen[0], minlength=10)
    assert len(counts) == 10 and counts.min() > 300 and counts.max() < 500  # ~400 each
    unconditional = RecordingG()
    Uint8RGBGenerator(unconditional, num_classes=0, seed=0, latent="normal")(torch.randn(5, 4))
    assert unconditional.seen == [None]


# ---- Inception: full path through torch-fidelity on random weights ------------------------------
def write_random_inception(path: str, seed: int) -> str:
    """torch-fidelity's InceptionV3 state dict with Kaiming-initialized weights (default init collapses
    the features); the module is built with weight loading bypassed."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    empty = f"{path}.empty"
    torch.save({}, empty)
    original = FeatureExtractorInceptionV3.load_state_dict
    FeatureExtractorInceptionV3.load_state_dict = lambda self, state, *a, **k: None
    try:
        net = FeatureExtractorInceptionV3(inception.EXTRACTOR, ["2048"], feature_extractor_weights_path=empty)
    finally:
        FeatureExtractorInceptionV3.load_state_dict = original
        os.remove(empty)
    torch.manual_seed(seed)
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    torch.save(net.state_dict(), path)
    return path


@pytest.fixture
def metrics_env(tmp_path, monkeypatch):
    monkeypatch.setenv("SNGAN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv(inception.ENV_VAR, raising=False)
    return tmp_path


def test_inception_metrics_through_torch_fidelity_with_local_random_weights(metrics_env):
    weights = write_random_inception(str(metrics_env / "inception_a.pth"), seed=0)
    cfg = compose_train(["device=cpu", "arch.g_ch=16", "metrics.extractor=inception",
                         f"metrics.inception_weights={weights}", "metrics.download_weights=false",
                         "metrics.isc_splits=2", "metrics.reference_size=10", "metrics.batch_size=10"])
    torch.manual_seed(0)
    G = generator_for(cfg)
    G.train()
    spec = resolve_spec(dataset_of(cfg), fidelity_of(cfg))
    reference = RGBReference(dataset_of(cfg), "train", 10, 0)
    run = lambda spec: compute_metrics(G, shape_of(cfg), fidelity_of(cfg), spec, reference, 10, torch.device("cpu"), "G")
    values, protocol = run(spec)

    assert set(values) == {"metrics/IS", "metrics/IS_std", "metrics/FID", "metrics/KID", "metrics/KID_std"}
    assert all(np.isfinite(v) for v in values.values())
    assert values["metrics/FID"] > 0 and values["metrics/IS"] >= 1.0
    assert G.training  # put back as it was
    assert protocol["num_generated"] == 10 and protocol["reference"]["size"] == 10
    assert protocol["reference"]["dataset"] == "digits" and protocol["isc_splits"] == 2
    assert protocol["extractor"] == "inception-v3-compat" and protocol["kid_subset_size"] == 10
    assert protocol["weights_sha256"] == spec.weights_sha256 and len(spec.weights_sha256) == 64

    # reference statistics are cached under a name holding the weights checksum, in our own folder
    cached = os.listdir(metrics_env / "cache" / "fidelity")
    assert cached and all(spec.weights_sha256[:16] in name for name in cached)
    assert not (metrics_env / "torch" / "fidelity_cache").exists()
    again, _ = run(spec)
    assert again["metrics/FID"] == pytest.approx(values["metrics/FID"], rel=1e-6)

    # other weights: their own cache entries and another number, never the first weights' statistics
    other = resolve_spec(dataset_of(cfg), fidelity_of(
        cfg, inception_weights=write_random_inception(str(metrics_env / "inception_b.pth"), seed=1)))
    assert other.weights_sha256 != spec.weights_sha256
    values_b, _ = run(other)
    assert len(os.listdir(metrics_env / "cache" / "fidelity")) == 2 * len(cached)
    assert values_b["metrics/FID"] != pytest.approx(values["metrics/FID"], rel=1e-3)


# ---- offline: weights that cannot be had ----------------------------------------------------------
def test_missing_inception_weights_give_one_line_with_both_fixes(metrics_env):
    with pytest.raises(inception.InceptionUnavailable) as err:
        inception.resolve_weights(None, allow_download=False)
    message = str(err.value)
    assert "\n" not in message
    for fix in ("sngan fetch", "metrics.inception_weights=PATH", inception.ENV_VAR, "metrics.enabled=false"):
        assert fix in message


def test_explicit_weights_paths_are_checked(metrics_env, monkeypatch):
    with pytest.raises(inception.InceptionUnavailable, match="does not exist"):
        inception.resolve_weights(str(metrics_env / "missing.pth"), allow_download=True)
    monkeypatch.setenv(inception.ENV_VAR, str(metrics_env / "also_missing.pth"))
    with pytest.raises(inception.InceptionUnavailable, match="SNGAN_INCEPTION_WEIGHTS"):
        inception.resolve_weights(None, allow_download=True)
    junk = metrics_env / "junk.pth"
    torch.save({"not": torch.zeros(1)}, junk)
    monkeypatch.setenv(inception.ENV_VAR, str(junk))
    assert inception.resolve_weights(None, allow_download=False) == str(junk)
    with pytest.raises(inception.InceptionUnavailable, match="not a torch-fidelity Inception weights file"):
        inception.check_weights_file(str(junk))
    # torch-fidelity's own download cache is found without any setting
    monkeypatch.delenv(inception.ENV_VAR)
    os.makedirs(os.path.dirname(inception.hub_weights_path()))
    torch.save({}, inception.hub_weights_path())
    assert inception.resolve_weights(None, allow_download=False) == inception.hub_weights_path()


# ---- the digits classifier ------------------------------------------------------------------------
def test_digits_classifier_is_accurate_cached_and_feeds_distinct_metrics(metrics_env):
    cfg = compose_train(["device=cpu", "arch.g_ch=16", "metrics.isc_splits=2"])
    path, meta = classifier.ensure_classifier(dataset_of(cfg), 0, "auto", 0.2, 0.0)
    assert meta["test_accuracy"] >= 0.90 and meta["test_size"] == 359  # 20% of 1,797 held out
    stamp = os.stat(path).st_mtime_ns
    assert classifier.ensure_classifier(dataset_of(cfg), 0, "auto", 0.2, 0.0)[1] == meta and os.stat(path).st_mtime_ns == stamp

    spec = resolve_spec(dataset_of(cfg), fidelity_of(cfg))  # auto on digits: the classifier
    assert spec.kind == "classifier" and spec.weights == path
    torch.manual_seed(0)
    values, protocol = compute_metrics(generator_for(cfg), shape_of(cfg), fidelity_of(cfg), spec,
                                       RGBReference(dataset_of(cfg), "train", None, 0), 200, torch.device("cpu"))
    assert set(values) == {"metrics/IS_digits", "metrics/IS_digits_std", "metrics/FID_digits",
                           "metrics/KID_digits", "metrics/KID_digits_std"}
    assert protocol["classifier_test_accuracy"] == meta["test_accuracy"]
    assert protocol["reference"]["size"] == 1797 and protocol["extractor"] == classifier.EXTRACTOR

    # the real digits score far better than an untrained generator under the same extractor
    real = classifier.FeatureExtractorClassifier(classifier.EXTRACTOR, ["features", "logits"],
                                                 feature_extractor_weights_path=path)
    images = RGBReference(dataset_of(cfg), "train", None, 0)
    x = torch.stack([images[i] for i in range(len(images))])
    feats, logits = real(x)
    half = len(x) // 2
    assert frechet_distance(feats[:half], feats[half:]) < 0.1 * values["metrics/FID_digits"]


@pytest.mark.parametrize("dataset", ["stl10", "imagenet"])
def test_classifier_on_a_dataset_without_usable_labels_refuses_before_training(dataset, small_cfg, tmp_path):
    """STL-10 has no labels; an ImageNet folder is read per batch, and the classifier trains on images in memory."""
    from PIL import Image

    from sngan.errors import ConfigError
    from sngan.train import train

    root = tmp_path / "imagenet"
    for cls in ("a", "b"):
        (root / cls).mkdir(parents=True)
        Image.new("RGB", (40, 40)).save(root / cls / "0.png")
    classes = ["dataset.num_classes=null"] if dataset == "imagenet" else []
    cfg = small_cfg(f"dataset={dataset}", f"dataset.root={root}", *classes, "metrics.enabled=true",
                    "metrics.extractor=classifier", "metrics.every.fidelity=1000")
    with pytest.raises(ConfigError) as err:
        train(cfg)  # refused at start-up, not at the first evaluation 1000 steps later
    assert "\n" not in str(err.value) and "metrics.extractor=inception" in str(err.value)
    assert not os.path.exists(os.path.join(cfg.run_dir, "scalars.jsonl"))
