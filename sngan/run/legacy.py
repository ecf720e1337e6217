"""Run records written by older sngan versions, read by today's code: the keys added since, filled with the values
those versions behaved as (a key a record lacks would otherwise be refused as missing)."""
from __future__ import annotations

import copy

# dataset keys added in 0.3 (Fashion-MNIST and folders): what every older image dataset was
DATASET_KEYS_0_3 = {"system_root": None, "memory_budget_gb": 4}
METRIC_FEATURES_0_2 = {"digits": "classifier", "mnist": "classifier"}  # 0.2's extractor=auto; Inception for the rest
OLD_FORMATS = {"imagenet": "folder"}  # 0.2 picked the reader by name


def upgrade_config(config: dict) -> dict:
    """A copy of a saved run config (plain containers) with the keys it predates filled in."""
    config = copy.deepcopy(config)
    dataset = config.get("dataset")
    if isinstance(dataset, dict) and dataset.get("kind", "images") == "images" and "format" not in dataset:
        dataset["format"] = OLD_FORMATS.get(dataset.get("name"), dataset.get("name"))
        for key, value in DATASET_KEYS_0_3.items():
            dataset.setdefault(key, value)
        dataset.setdefault("metric_features", METRIC_FEATURES_0_2.get(dataset.get("name"), "inception"))
    return config
