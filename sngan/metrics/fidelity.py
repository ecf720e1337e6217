"""IS, FID and KID through torch-fidelity: one evaluation of a generator against a reference split, with
its protocol, and the registered `fidelity` metric that runs it during training.

Features come from Inception, or from a small classifier trained on the dataset's own labels (digits,
MNIST) so that the embedded default needs no download. Every number comes with its protocol (N generated,
reference split and size, feature extractor and the checksum of its weights); reference statistics are
cached per (dataset, split, size, resolution, extractor, weights checksum) in the project's cache folder.
"""
from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import dataclass, field

import torch
import torch_fidelity
from torch import nn
from torch.utils.data import Dataset
from omegaconf import OmegaConf
from torch_fidelity import GenerativeModelModuleWrapper, calculate_metrics

from ..data import streams
from ..data.images import TensorImages, load_images, to_uint8
from ..errors import ConfigError
from ..gan.archs import ModelShape, model_shape
from . import classifier, inception
from .cache import cache_dir, file_sha256, text_sha256
from .registry import Metric, MetricContext, register_metric

CLASSIFIER_DATASETS = ("digits", "mnist")  # auto: small labeled sets use the classifier, others Inception
EXTRACTORS = ("auto", "inception", "classifier")


@dataclass
class MetricSpec:
    """Which feature extractor, from which weights file, and the tag suffix that keeps names apart."""

    kind: str                      # "inception" or "classifier"
    extractor: str                 # torch-fidelity registry name
    weights: str                   # local weights file
    weights_sha256: str
    suffix: str = ""               # "" for Inception; "_<dataset>" for the classifier (FID_digits)
    classifier_meta: dict = field(default_factory=dict)


def extractor_kind(dataset_cfg, mcfg) -> str | None:
    """'inception', 'classifier', or None for datasets that are not images (2-D points)."""
    if dataset_cfg.get("kind", "images") != "images":
        return None
    kind = str(mcfg.extractor)
    if kind not in EXTRACTORS:
        raise ConfigError(f"unknown metrics.extractor '{kind}': choose one of {', '.join(EXTRACTORS)}")
    if kind == "auto":
        return "classifier" if dataset_cfg.name in CLASSIFIER_DATASETS else "inception"
    return kind


def resolve_inception(mcfg) -> MetricSpec:
    """Inception weights found and loadable, or InceptionUnavailable (a one-line UserError)."""
    path = inception.resolve_weights(mcfg.get("inception_weights"), bool(mcfg.get("download_weights", True)))
    inception.check_weights_file(path)
    return MetricSpec("inception", inception.EXTRACTOR, path, file_sha256(path))


def resolve_spec(dataset_cfg, mcfg) -> MetricSpec | None:
    """The extractor for this dataset; trains and caches the classifier on first use."""
    kind = extractor_kind(dataset_cfg, mcfg)
    if kind is None:
        return None
    if kind == "inception":
        return resolve_inception(mcfg)
    path, meta = classifier.ensure_classifier(dataset_cfg, int(mcfg.classifier_seed))
    return MetricSpec("classifier", classifier.EXTRACTOR, path, file_sha256(path), f"_{dataset_cfg.name}", meta)


class Uint8RGBGenerator(nn.Module):
    """G as torch-fidelity wants it: noise in, uint8 RGB NCHW out. Labels of a conditional G are drawn
    uniformly here (torch-fidelity's own label path crashes on numpy >= 1.24)."""

    def __init__(self, G: nn.Module, num_classes: int, seed: int, latent: str):
        super().__init__()
        self.G, self.num_classes, self.latent = G, num_classes, latent
        self.labels = streams.generator(seed, streams.METRIC_LABELS) if num_classes else None

    @property
    def z_type(self) -> str:
        """torch-fidelity's noise for G's input law (uniform: its U(0, 1), mapped to U(-1, 1) in forward)."""
        return "uniform_0_1" if self.latent == "uniform" else "normal"

    def forward(self, z):
        device = next(self.G.parameters()).device
        z = z.to(device, torch.float32)
        if self.latent == "uniform":
            z = z * 2 - 1
        y = torch.randint(self.num_classes, (len(z),), generator=self.labels).to(device) if self.num_classes else None
        x = to_uint8(self.G(z, y).float())
        return x.expand(-1, 3, -1, -1).contiguous() if x.shape[1] == 1 else x


class RGBReference(Dataset):
    """Real images (uint8 RGB CHW, no labels) of one split, or a fixed seeded subset of it."""

    def __init__(self, dataset_cfg, split: str, max_size: int | None, seed: int):
        self.dataset = load_images(dataset_cfg, split)
        n = len(self.dataset)
        if max_size and int(max_size) < n:
            self.indices = torch.randperm(n, generator=streams.generator(seed, streams.REFERENCE_SUBSET))[:int(max_size)].sort().values
        else:
            self.indices = torch.arange(n)
        self.in_memory = isinstance(self.dataset, TensorImages)
        root = os.path.abspath(os.path.expanduser(str(dataset_cfg.root))) if dataset_cfg.get("root") else "-"
        self.description = {"dataset": str(dataset_cfg.name), "split": split, "size": len(self.indices),
                            "of": n, "resolution": int(dataset_cfg.resolution), "root": root}

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, i):
        x = self.dataset[int(self.indices[i])][0]
        return x.expand(3, -1, -1) if x.shape[0] == 1 else x

    def cache_name(self, spec: MetricSpec, seed: int, device: torch.device) -> str:
        """Everything the reference statistics depend on: the weights enter by checksum, and the device type
        and precision the features were computed in (CPU and GPU features differ in the last bits)."""
        d = self.description
        where = text_sha256(f"{d['root']}|{seed}")[:8]
        return (f"{d['dataset']}-{d['split']}-{d['resolution']}px-n{d['size']}of{d['of']}-{where}-"
                f"{spec.extractor}-{spec.weights_sha256[:16]}-{device.type}-{PRECISION}")


PRECISION = "fp32"  # features in full fp32: TF32 is off inside the extractor whatever the training loop set


@contextlib.contextmanager
def _on_device(device: torch.device):
    """torch-fidelity moves things with .cuda(): make that mean this run's GPU; and compute the features in
    fp32 (TF32 off for matmuls and convolutions, restored after), so numbers do not depend on speed.tf32."""
    if device.type != "cuda":
        yield
        return
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        with torch.cuda.device(device):
            yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def _calculate(G: nn.Module, shape: ModelShape, mcfg, spec: MetricSpec, reference: RGBReference | None,
               num_samples: int, device: torch.device, want: dict[str, bool]) -> tuple[dict, int]:
    """One torch-fidelity pass over num_samples generated images: (its raw results, KID subset size)."""
    seed, splits = int(mcfg.seed), int(mcfg.isc_splits)
    binary = want.get("fid") or want.get("kid") or want.get("prc")
    kid_subset = min(int(mcfg.kid_subset_size), num_samples, len(reference) if binary else num_samples)
    generator = Uint8RGBGenerator(G, shape.num_classes, seed, shape.latent)
    wrapped = GenerativeModelModuleWrapper(generator, shape.z_dim, generator.z_type, 0, make_eval=True)
    kwargs = dict(
        input1=wrapped, input1_model_num_samples=num_samples, cuda=device.type == "cuda",
        batch_size=int(mcfg.batch_size), feature_extractor=spec.extractor,
        feature_extractor_weights_path=spec.weights, isc_splits=splits, kid_subsets=int(mcfg.kid_subsets),
        kid_subset_size=kid_subset, rng_seed=seed, verbose=bool(mcfg.verbose),
        cache_root=cache_dir("fidelity"), cache=True, **want)
    if want.get("prc"):
        kwargs["prc_neighborhood"] = int(mcfg.get("prc_neighborhood", 3))
    if binary:
        kwargs.update(input2=reference, input2_cache_name=reference.cache_name(spec, seed, device),
                      save_cpu_ram=reference.in_memory)  # in-memory tensors need no loader workers
    with _on_device(device):
        return calculate_metrics(**kwargs), kid_subset


def compute_metrics(G: nn.Module, shape: ModelShape, mcfg, spec: MetricSpec, reference: RGBReference | None,
                    num_samples: int, device: torch.device, generator_name: str = "G") -> tuple[dict, dict]:
    """(scalars {'metrics/FID': ...}, protocol record) for G against the reference: IS, FID, KID and
    precision/recall as mcfg.isc/fid/kid/prc say. IS runs on metrics.isc_num_samples when that is set and
    differs from num_samples (the paper: IS over 10 x 5,000, FID on 5,000), in a pass of its own.

    G is evaluated in eval mode (BN running statistics) and put back as it was."""
    want = {"isc": bool(mcfg.isc), "fid": bool(mcfg.fid), "kid": bool(mcfg.kid), "prc": bool(mcfg.get("prc", False))}
    if not any(want.values()):
        return {}, {}
    binary = want["fid"] or want["kid"] or want["prc"]
    if binary and reference is None:
        raise ConfigError("FID, KID and precision/recall need a reference split: pass metrics.reference_split=train")
    num_samples, seed, splits = int(num_samples), int(mcfg.seed), int(mcfg.isc_splits)
    isc_samples = int(mcfg.get("isc_num_samples") or num_samples)
    if want["isc"] and isc_samples < splits:
        raise ConfigError(f"{isc_samples} samples for IS are below metrics.isc_splits={splits}: raise "
                          f"metrics.num_samples (or metrics.isc_num_samples)")
    passes = [(num_samples, want)]
    if want["isc"] and isc_samples != num_samples:  # IS on its own count, the rest on num_samples
        passes = [(isc_samples, {"isc": True})] + ([(num_samples, {**want, "isc": False})] if binary else [])
    was_training = G.training
    raw, kid_subset = {}, None
    try:
        for n, flags in passes:
            result, subset = _calculate(G, shape, mcfg, spec, reference, n, device, flags)
            raw.update(result)
            kid_subset = subset if flags.get("kid") else kid_subset
    finally:
        G.train(was_training)

    s, out = spec.suffix, {}
    if want["isc"]:
        out[f"metrics/IS{s}"] = raw[torch_fidelity.KEY_METRIC_ISC_MEAN]
        out[f"metrics/IS{s}_std"] = raw[torch_fidelity.KEY_METRIC_ISC_STD]
    if want["fid"]:
        out[f"metrics/FID{s}"] = raw[torch_fidelity.KEY_METRIC_FID]
    if want["kid"]:
        out[f"metrics/KID{s}"] = raw[torch_fidelity.KEY_METRIC_KID_MEAN]
        out[f"metrics/KID{s}_std"] = raw[torch_fidelity.KEY_METRIC_KID_STD]
    if want["prc"]:
        out[f"metrics/precision{s}"] = raw[torch_fidelity.KEY_METRIC_PRECISION]
        out[f"metrics/recall{s}"] = raw[torch_fidelity.KEY_METRIC_RECALL]
    protocol = {
        "num_generated": num_samples if binary else None, "generator": generator_name, "noise_seed": seed,
        "reference": reference.description if binary else None,
        "extractor": spec.extractor, "weights": os.path.basename(spec.weights), "weights_sha256": spec.weights_sha256,
        "isc_num_generated": isc_samples if want["isc"] else None,
        "isc_splits": splits if want["isc"] else None,
        "kid_subsets": int(mcfg.kid_subsets) if want["kid"] else None,
        "kid_subset_size": kid_subset if want["kid"] else None,
        "prc_neighborhood": int(mcfg.get("prc_neighborhood", 3)) if want["prc"] else None,
        "device": device.type, "precision": PRECISION,
        "engine": f"torch-fidelity {torch_fidelity.__version__}",
    }
    if spec.kind == "classifier":
        protocol["classifier_test_accuracy"] = spec.classifier_meta["test_accuracy"]
        protocol["classifier_test_size"] = spec.classifier_meta["test_size"]
    return out, protocol


@register_metric("fidelity")
class FidelityMetrics(Metric):
    """IS/FID/KID of the generator every metrics.every.fidelity G updates, each result written with its
    protocol to <run_dir>/metrics.jsonl. metrics.enabled=false turns it off (no Inception weights needed)."""

    flags = {"prc": False}  # which of metrics.isc/fid/kid/prc this entry overrides

    @staticmethod
    def applies(cfg) -> bool:
        return bool(cfg.metrics.enabled) and extractor_kind(cfg.dataset, cfg.metrics) is not None

    def __init__(self, cfg, device):
        super().__init__(cfg, device)
        self.dataset_cfg, self.shape = cfg.dataset, model_shape(cfg)
        self.mcfg = OmegaConf.merge(cfg.metrics, self.flags)
        kind = extractor_kind(cfg.dataset, cfg.metrics)
        # Checked now, so a run never trains for hours and then fails to measure: Inception weights, or a
        # dataset the classifier can be trained on (the training itself waits for the first evaluation).
        self.spec = resolve_inception(self.mcfg) if kind == "inception" else None
        if kind == "classifier":
            classifier.check_classifier_dataset(cfg.dataset)  # config only: every rank refuses alike under torchrun
        self.reference = None
        self.real = None  # what real images score under the same protocol (metrics/reference.py)
        self.protocol_logged = False

    def __call__(self, ctx: MetricContext) -> dict[str, float]:
        if self.spec is None:
            self.spec = resolve_spec(self.dataset_cfg, self.mcfg)
        if self.reference is None:
            self.reference = RGBReference(self.dataset_cfg, str(self.mcfg.reference_split),
                                          self.mcfg.reference_size, int(self.mcfg.seed))
        if self.real is None and self.mcfg.get("real_reference", True):
            from .reference import real_reference

            self.real = real_reference(self.reference, self.spec, self.mcfg, self.device, _on_device)
        start = time.perf_counter()
        scalars, protocol = compute_metrics(ctx.G, self.shape, self.mcfg, self.spec, self.reference,
                                            int(self.mcfg.num_samples), self.device, ctx.generator_name)
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

    @staticmethod
    def applies(cfg) -> bool:
        return bool(cfg.metrics.get("prc", False)) and FidelityMetrics.applies(cfg)
