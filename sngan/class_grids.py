"""Per-class sample grids for class-conditional runs: the fixed noise drawn once per class."""
from __future__ import annotations

import os

import torch
from torchvision.utils import make_grid, save_image

from .models import num_classes


@torch.no_grad()
def class_grids(G, z: torch.Tensor, classes) -> dict[int, torch.Tensor]:
    """class -> grid of G(z, class) in [0, 1], G in eval mode (BN running statistics)."""
    was_training = G.training
    G.eval()
    try:
        grids = {}
        for c in classes:
            images = G(z, torch.full((len(z),), int(c), dtype=torch.long, device=z.device))
            grids[int(c)] = make_grid(images.float().add(1).div(2).clamp(0, 1), nrow=int(len(z) ** 0.5), padding=1)
        return grids
    finally:
        G.train(was_training)


def write_class_grids(cfg, G, z: torch.Tensor, run_dir: str, step: int, logger) -> list[str]:
    """samples/class_<c>/step_<step>.png and TensorBoard image samples/class_<c> for the first
    train.class_grids classes (all of them for CIFAR-10; ImageNet's 1000 would be too many);
    nothing for unconditional runs. Returns the written paths."""
    k = num_classes(cfg)
    limit = int(cfg.train.get("class_grids", 10))
    paths = []
    for c, grid in class_grids(G, z, range(min(k, limit))).items():
        folder = os.path.join(run_dir, "samples", f"class_{c:04d}")
        os.makedirs(folder, exist_ok=True)
        paths.append(os.path.join(folder, f"step_{step:09d}.png"))
        save_image(grid, paths[-1])
        logger.image(step, f"samples/class_{c:04d}", grid)
    return paths
