"""Fréchet distance between feature sets, computed by torch-fidelity's own code (the engine's numbers)."""
from __future__ import annotations

import torch
from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_features_to_statistics, fid_statistics_to_metric


def frechet_distance(features_1: torch.Tensor, features_2: torch.Tensor) -> float:
    """FID formula on two (N, D) feature sets: |mu1-mu2|^2 + tr(S1 + S2 - 2 (S1 S2)^1/2)."""
    stats_1 = fid_features_to_statistics(features_1.detach().cpu().float())
    stats_2 = fid_features_to_statistics(features_2.detach().cpu().float())
    return float(fid_statistics_to_metric(stats_1, stats_2, verbose=False)[KEY_METRIC_FID])
