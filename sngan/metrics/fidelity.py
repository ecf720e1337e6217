"""IS, FID and KID through torch-fidelity: one evaluation of a generator against a reference split, with its
protocol. The library behind `sngan eval` and the registered training-time metrics (metrics/image_quality.py).

Features come from Inception, or from a small classifier trained on the dataset's own labels (digits, MNIST,
Fashion-MNIST, a folder with classes: metrics/classifier.py) so that they need no download. Every number comes with its protocol (N generated,
reference split and size, feature extractor and the checksum of its weights); reference statistics are
cached per (dataset, split, size, resolution, extractor, weights checksum) in the project's cache folder.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field

import torch
import torch_fidelity
from torch import nn
from torch.utils.data import Dataset
from torch_fidelity import GenerativeModelModuleWrapper, calculate_metrics

from ..data import streams
from ..data.images import held_in_memory, load_images, to_uint8
from ..data.readers import has_test_split
from ..errors import ConfigError
from ..gan.archs import ModelShape
from . import classifier, inception
from .cache import cache_dir, file_sha256, text_sha256
from .precision import PRECISION, on_device

EXTRACTORS = ("auto", "inception", "classifier")
REFERENCE_SPLITS = ("auto", "train", "test", "heldout")


@dataclass(frozen=True)
class FidelityOptions:
    """The image-quality keys of the metrics group (conf/metrics/default.yaml documents each)."""

    enabled: bool
    num_samples: int
    extractor: str
    isc: bool
    fid: bool
    kid: bool
    prc: bool
    prc_neighborhood: int
    real_reference: bool
    isc_num_samples: int | None
    reference_split: str
    reference_size: int | None
    isc_splits: int
    kid_subsets: int
    kid_subset_size: int
    batch_size: int
    seed: int
    inception_weights: str | None
    download_weights: bool
    classifier_seed: int
    classifier_recipe: str
    classifier_holdout: float
    classifier_min_accuracy: float
    verbose: bool

    def wants(self) -> dict[str, bool]:
        return {"isc": self.isc, "fid": self.fid, "kid": self.kid, "prc": self.prc}


OTHER_METRIC_KEYS = ("every", "modes", "memorization", "sigma", "classes")  # metrics.* keys that belong to other entries


def parse_fidelity(node) -> FidelityOptions:
    """FidelityOptions of a composed metrics node, checked (one-line ConfigErrors naming the fix)."""
    from ..options import parse

    o = parse(FidelityOptions, node, "metrics", ignore=("name", *OTHER_METRIC_KEYS))
    for key in ("num_samples", "isc_splits", "kid_subsets", "kid_subset_size", "batch_size", "prc_neighborhood"):
        if getattr(o, key) < 1:
            raise ConfigError(f"metrics.{key} must be >= 1, got {getattr(o, key)}")
    for key in ("isc_num_samples", "reference_size"):
        if getattr(o, key) is not None and getattr(o, key) < 1:
            raise ConfigError(f"metrics.{key} must be >= 1 or null, got {getattr(o, key)}")
    if o.extractor not in EXTRACTORS:
        raise ConfigError(f"unknown metrics.extractor '{o.extractor}': choose one of {', '.join(EXTRACTORS)}")
    if o.reference_split not in REFERENCE_SPLITS:
        raise ConfigError(f"unknown metrics.reference_split '{o.reference_split}': choose one of "
                          f"{', '.join(REFERENCE_SPLITS)}")
    if not 0 < o.classifier_holdout < 1:
        raise ConfigError(f"metrics.classifier_holdout must lie in (0, 1), got {o.classifier_holdout}")
    if o.classifier_recipe not in classifier.RECIPE_CHOICES:
        raise ConfigError(f"unknown metrics.classifier_recipe '{o.classifier_recipe}': choose one of "
                          f"{', '.join(classifier.RECIPE_CHOICES)}")
    return o


@dataclass
class MetricSpec:
    """Which feature extractor, from which weights file, and the tag suffix that keeps names apart."""

    kind: str                      # "inception" or "classifier"
    extractor: str                 # torch-fidelity registry name
    weights: str                   # local weights file
    weights_sha256: str
    suffix: str = ""               # "" for Inception; "_<dataset>" for the classifier (FID_digits)
    classifier_meta: dict = field(default_factory=dict)


def extractor_kind(dataset, options: FidelityOptions) -> str | None:
    """'inception', 'classifier', or None for datasets that are not images (2-D points). auto: the dataset's own
    choice (dataset.metric_features: Inception for the paper's RGB sets, the classifier for the rest), Inception for
    an unlabelled one."""
    if dataset.points:
        return None
    if options.extractor == "auto":
        return dataset.metric_features if dataset.labelled else "inception"
    return options.extractor


def reference_split(dataset, options: FidelityOptions, kind: str | None) -> str:
    """The real images generated ones are compared with. auto: with the classifier, images it never saw (the test
    split, or a labelled folder's held-out part); the embedded digits, all 1,797 (their held-out 360 are too few for
    FID); with Inception, the train split (the modern protocol)."""
    if options.reference_split != "auto":
        return options.reference_split
    if kind == "classifier" and has_test_split(dataset):
        return "test"
    if kind == "classifier" and dataset.format == "folder":
        return "heldout"
    return "train"


def resolve_inception(options: FidelityOptions) -> MetricSpec:
    """Inception weights found and loadable, or InceptionUnavailable (a one-line UserError)."""
    path = inception.resolve_weights(options.inception_weights, options.download_weights)
    inception.check_weights_file(path)
    return MetricSpec("inception", inception.EXTRACTOR, path, file_sha256(path))


def resolve_spec(dataset, options: FidelityOptions) -> MetricSpec | None:
    """The extractor for this dataset; trains and caches the classifier on first use."""
    kind = extractor_kind(dataset, options)
    if kind is None:
        return None
    if kind == "inception":
        return resolve_inception(options)
    path, meta = classifier.ensure_classifier(dataset, options.classifier_seed, options.classifier_recipe,
                                              options.classifier_holdout, options.classifier_min_accuracy)
    return MetricSpec("classifier", classifier.EXTRACTOR, path, file_sha256(path), f"_{dataset.name}", meta)


class Uint8RGBGenerator(nn.Module):
    """G as torch-fidelity wants it: noise in, uint8 RGB NCHW out. Labels of a conditional G are drawn
    uniformly here (torch-fidelity's own label path crashes on numpy >= 1.24)."""

    def __init__(self, G: nn.Module, num_classes: int, seed: int, latent: str, bar=None):
        super().__init__()
        self.G, self.num_classes, self.latent, self.bar = G, num_classes, latent, bar
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
        if self.bar is not None:
            self.bar.update(len(x))
        return x.expand(-1, 3, -1, -1).contiguous() if x.shape[1] == 1 else x


class RGBReference(Dataset):
    """Real images (uint8 RGB CHW, no labels) of one split (train, test, or `heldout`: the part of a dataset without
    a test split that its classifier did not train on), or a fixed seeded subset of it."""

    def __init__(self, dataset, split: str, max_size: int | None, seed: int, holdout: tuple[int, float] = (0, 0.2)):
        self.dataset = load_images(dataset, "train" if split == "heldout" else split)
        if split == "heldout":  # the classifier's (classifier_seed, classifier_holdout) split
            pool = classifier.holdout_indices(len(self.dataset), *holdout)[1].sort().values
        else:
            pool = torch.arange(len(self.dataset))
        n = len(pool)
        if max_size and int(max_size) < n:
            pick = torch.randperm(n, generator=streams.generator(seed, streams.REFERENCE_SUBSET))[:int(max_size)]
            self.indices = pool[pick.sort().values]
        else:
            self.indices = pool
        self.in_memory = held_in_memory(self.dataset)
        root = os.path.abspath(os.path.expanduser(str(dataset.root))) if dataset.root else "-"
        self.description = {"dataset": str(dataset.name), "split": split, "size": len(self.indices),
                            "of": n, "resolution": int(dataset.resolution), "root": root}
        self.content = self._digest()

    def _digest(self) -> str:
        """What the reference images are: their bytes when in memory, else their files (paths, sizes, mtimes)."""
        h = hashlib.sha256()
        if self.in_memory:
            h.update(self.dataset.images[self.indices].contiguous().numpy().tobytes())
        else:
            for i in self.indices.tolist():
                path = self.dataset.samples[i][0]
                st = os.stat(path)
                h.update(f"{path}|{st.st_size}|{st.st_mtime_ns}\n".encode())
        return h.hexdigest()

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, i):
        x = self.dataset[int(self.indices[i])][0]
        return x.expand(3, -1, -1) if x.shape[0] == 1 else x

    def cache_name(self, spec: MetricSpec, seed: int, device: torch.device) -> str:
        """Everything the reference statistics depend on: the images enter by their digest, the weights by checksum,
        and the device type and precision the features were computed in (CPU and GPU features differ in the last
        bits)."""
        d = self.description
        return (f"{d['dataset']}-{d['split']}-{d['resolution']}px-n{d['size']}of{d['of']}-{self.content[:12]}-"
                f"{spec.extractor}-{spec.weights_sha256[:16]}-{device.type}-{PRECISION}")


def reference_for(dataset, options: FidelityOptions, kind: str | None) -> RGBReference:
    """The real images of the protocol (reference_split, reference_size)."""
    return RGBReference(dataset, reference_split(dataset, options, kind), options.reference_size, options.seed,
                        (options.classifier_seed, options.classifier_holdout))


def _calculate(G: nn.Module, shape: ModelShape, options: FidelityOptions, spec: MetricSpec,
               reference: RGBReference | None, num_samples: int, device: torch.device,
               want: dict[str, bool], progress: bool = False) -> tuple[dict, int]:
    """One torch-fidelity pass over num_samples generated images: (its raw results, KID subset size)."""
    seed, splits = options.seed, options.isc_splits
    binary = want.get("fid") or want.get("kid") or want.get("prc")
    kid_subset = min(options.kid_subset_size, num_samples, len(reference) if binary else num_samples)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=num_samples, unit="img", dynamic_ncols=True,
                   desc="IS" if set(k for k, v in want.items() if v) == {"isc"} else "generated")
    generator = Uint8RGBGenerator(G, shape.num_classes, seed, shape.latent, bar)
    wrapped = GenerativeModelModuleWrapper(generator, shape.z_dim, generator.z_type, 0, make_eval=True)
    kwargs = dict(
        input1=wrapped, input1_model_num_samples=num_samples, cuda=device.type == "cuda",
        batch_size=options.batch_size, feature_extractor=spec.extractor,
        feature_extractor_weights_path=spec.weights, isc_splits=splits, kid_subsets=options.kid_subsets,
        kid_subset_size=kid_subset, rng_seed=seed, verbose=options.verbose,
        cache_root=cache_dir("fidelity"), cache=True, **want)
    if want.get("prc"):
        kwargs["prc_neighborhood"] = options.prc_neighborhood
    if binary:
        kwargs.update(input2=reference, input2_cache_name=reference.cache_name(spec, seed, device),
                      save_cpu_ram=reference.in_memory)  # in-memory tensors need no loader workers
    try:
        with on_device(device):
            return calculate_metrics(**kwargs), kid_subset
    finally:
        if bar is not None:
            bar.close()


def compute_metrics(G: nn.Module, shape: ModelShape, options: FidelityOptions, spec: MetricSpec,
                    reference: RGBReference | None, num_samples: int, device: torch.device,
                    generator_name: str = "G", progress: bool = False) -> tuple[dict, dict]:
    """(scalars {'metrics/FID': ...}, protocol record) for G against the reference: IS, FID, KID and
    precision/recall as options.isc/fid/kid/prc say. IS runs on metrics.isc_num_samples when that is set and
    differs from num_samples (the paper: IS over 10 x 5,000, FID on 5,000), in a pass of its own.

    G is evaluated in eval mode (BN running statistics) and put back as it was."""
    want = options.wants()
    if not any(want.values()):
        return {}, {}
    binary = want["fid"] or want["kid"] or want["prc"]
    if binary and reference is None:
        raise ConfigError("FID, KID and precision/recall need a reference split: pass metrics.reference_split=train")
    num_samples, seed, splits = int(num_samples), options.seed, options.isc_splits
    isc_samples = options.isc_num_samples or num_samples
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
            result, subset = _calculate(G, shape, options, spec, reference, n, device, flags, progress)
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
        "kid_subsets": options.kid_subsets if want["kid"] else None,
        "kid_subset_size": kid_subset if want["kid"] else None,
        "prc_neighborhood": options.prc_neighborhood if want["prc"] else None,
        "device": device.type, "precision": PRECISION,
        "engine": f"torch-fidelity {torch_fidelity.__version__}",
    }
    if spec.kind == "classifier":
        protocol["classifier_test_accuracy"] = spec.classifier_meta["test_accuracy"]
        protocol["classifier_test_size"] = spec.classifier_meta["test_size"]
    return out, protocol
