"""What real data scores under the same protocol, so every run's numbers sit next to their ceiling:

- IS of the real reference images (up to the IS sample count), with the same extractor and splits;
- FID / KID / precision-recall of one seeded random half of the reference against the other half.

Computed once per (reference, extractor weights, protocol, device) and cached as JSON in the project's cache
folder; written into every metrics.jsonl record under "real".
"""
from __future__ import annotations

import json
import os

import torch
import torch_fidelity
from torch.utils.data import Subset
from torch_fidelity import calculate_metrics

from ..data import streams
from ..fsutil import atomic_write
from .cache import cache_dir, text_sha256


def _tags(raw: dict, suffix: str, want: dict) -> dict:
    out = {}
    if want.get("isc"):
        out[f"metrics/IS{suffix}"] = raw[torch_fidelity.KEY_METRIC_ISC_MEAN]
    if want.get("fid"):
        out[f"metrics/FID{suffix}"] = raw[torch_fidelity.KEY_METRIC_FID]
    if want.get("kid"):
        out[f"metrics/KID{suffix}"] = raw[torch_fidelity.KEY_METRIC_KID_MEAN]
    if want.get("prc"):
        out[f"metrics/precision{suffix}"] = raw[torch_fidelity.KEY_METRIC_PRECISION]
        out[f"metrics/recall{suffix}"] = raw[torch_fidelity.KEY_METRIC_RECALL]
    return out


def real_reference(reference, spec, options, device: torch.device) -> dict:
    """{"metrics/IS<s>": ..., "metrics/FID<s>": ..., ..., "protocol": {...}} for the real images of `reference`
    (an RGBReference), measured as the generator is (see the module doc); `options`: FidelityOptions."""
    from .fidelity import on_device

    seed = options.seed
    want = options.wants()
    n = len(reference)
    isc_n = min(n, options.isc_num_samples or options.num_samples)
    half = n // 2
    key = json.dumps({"ref": reference.cache_name(spec, seed, device), "want": want, "isc_n": isc_n,
                      "splits": options.isc_splits, "kid": [options.kid_subsets, options.kid_subset_size],
                      "k": options.prc_neighborhood}, sort_keys=True)
    path = os.path.join(cache_dir("fidelity"), f"real-{text_sha256(key)[:24]}.json")
    if os.path.isfile(path):
        with open(path) as f:
            return json.load(f)
    perm = torch.randperm(n, generator=streams.generator(seed, streams.REAL_HALF))
    common = dict(cuda=device.type == "cuda", batch_size=options.batch_size, feature_extractor=spec.extractor,
                  feature_extractor_weights_path=spec.weights, isc_splits=options.isc_splits,
                  kid_subsets=options.kid_subsets, rng_seed=seed, verbose=False, cache=False,
                  save_cpu_ram=True, prc_neighborhood=options.prc_neighborhood)
    out, raw = {}, {}
    with on_device(device):
        if want["isc"] and isc_n >= options.isc_splits:
            raw.update(calculate_metrics(input1=Subset(reference, perm[:isc_n].tolist()), isc=True, **common))
        binary = {k: want[k] for k in ("fid", "kid", "prc")}
        if any(binary.values()) and half >= 2:
            raw.update(calculate_metrics(input1=Subset(reference, perm[:half].tolist()),
                                         input2=Subset(reference, perm[half:2 * half].tolist()),
                                         kid_subset_size=min(options.kid_subset_size, half), **binary, **common))
    out = _tags(raw, spec.suffix, {k: v and (k != "isc" or isc_n >= options.isc_splits) for k, v in want.items()})
    out["protocol"] = {"is_real_images": isc_n if want["isc"] else None,
                       "halves": [half, half] if any(want[k] for k in ("fid", "kid", "prc")) else None,
                       "of": reference.description}
    atomic_write(path, lambda f: json.dump(out, f), mode="w", durable=False)
    return out
