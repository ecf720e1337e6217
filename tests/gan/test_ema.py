"""EMA of the generator: the average itself, its start, SN inside it, checkpoints and sample grids."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from PIL import Image

from conftest import generator_for
from sngan.errors import ConfigError
from sngan.gan.ema import build_ema, load_ema_state, sampling_generator, update_ema
from sngan.gan.generate import sample_grid
from sngan.gan.norms.spectral import find_spectral_norm, spectral_norm
from sngan.run.checkpoints import load_checkpoint
from sngan.run.layout import list_checkpoints
from sngan.train import train


def ema_of(G, decay, start=0, enabled=True):
    """build_ema as train calls it, with the ema.* options parsed (and checked) as train parses them."""
    from omegaconf import OmegaConf

    from sngan.train.options import EMAOptions

    return build_ema(G, EMAOptions.parse(OmegaConf.create({"enabled": enabled, "decay": decay, "start": start})))


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 1)
        self.register_buffer("stat", torch.zeros(1))


def set_all(net, value):
    with torch.no_grad():
        for t in (*net.parameters(), *net.buffers()):
            t.fill_(value)


@pytest.mark.parametrize("start", [0, 2])
def test_ema_matches_a_hand_computed_average(start):
    G, d = Tiny(), 0.9
    ema = ema_of(G, d, start)
    values = [1.0, 3.0, -2.0, 5.0]
    expected = None
    for step, v in enumerate(values, start=1):
        set_all(G, v)
        update_ema(ema, G, step)
        expected = v if step <= start or expected is None else d * expected + (1 - d) * v
        for t in (*ema.module.parameters(), *ema.module.buffers()):  # weights and buffers alike
            assert torch.allclose(t, torch.full_like(t, expected))
    assert sampling_generator(G, ema) is ema.module and sampling_generator(G, None) is G


def test_ema_off_and_bad_settings(small_cfg):
    assert ema_of(Tiny(), 0.9, enabled=False) is None
    with pytest.raises(ConfigError, match="ema.decay"):
        ema_of(Tiny(), 1.5)
    with pytest.raises(ConfigError, match="ema.start"):
        ema_of(Tiny(), 0.9, start=-1)
    # EMA off: checkpoints hold no average (was ema_state(None) is None; the loop now writes it itself)
    cfg = small_cfg("train.steps=2", "ema.enabled=false")
    train(cfg)
    assert load_checkpoint(list_checkpoints(cfg.run_dir)[0])["G_ema"] is None


def test_restored_average_keeps_averaging():
    G = Tiny()
    ema = ema_of(G, 0.5)
    set_all(G, 2.0)
    update_ema(ema, G, 1)
    saved = ema.module.state_dict()  # what the checkpoint's 'G_ema' holds
    fresh = ema_of(Tiny(), 0.5)
    load_ema_state(fresh, saved)
    set_all(G, 4.0)
    update_ema(fresh, G, 2)
    assert fresh.module.fc.weight[0, 0].item() == pytest.approx(3.0)  # averaged, not copied over


def test_sn_vectors_of_the_average_stay_unit():
    torch.manual_seed(0)
    G = spectral_norm(nn.Linear(6, 4))
    ema = ema_of(G, 0.5)
    for step in range(1, 4):
        with torch.no_grad():
            G.parametrizations.weight.original.normal_()
        G(torch.randn(1, 6))  # G's own power iteration moves its u
        update_ema(ema, G, step)
        sn = find_spectral_norm(ema.module)
        assert sn._u.norm().item() == pytest.approx(1.0, abs=1e-5)
        assert sn._v.norm().item() == pytest.approx(1.0, abs=1e-5)


def test_training_with_ema_saves_it_and_samples_from_it(small_cfg):
    cfg = small_cfg("train.steps=2", "ema.enabled=true", "ema.decay=0.5", "ema.start=0")  # averaging from step 1
    train(cfg)
    state = load_checkpoint(list_checkpoints(cfg.run_dir)[0], map_location="cpu")
    assert state["G_ema"] is not None
    G_ema = generator_for(cfg)
    G_ema.load_state_dict(state["G_ema"])
    G_last = generator_for(cfg)
    G_last.load_state_dict(state["G"])
    z = state["fixed_z"]
    png = torch.from_numpy(np.array(Image.open(f"{cfg.run_dir}/samples/step_000000002.png"))).permute(2, 0, 1)
    as_png = lambda grid: grid.mul(255).add(0.5).clamp(0, 255).to(torch.uint8)[: png.shape[0]]
    ema_grid, last_grid = as_png(sample_grid(G_ema, z)), as_png(sample_grid(G_last, z))
    assert not torch.equal(ema_grid, last_grid)
    assert (ema_grid.int() - png.int()).abs().max() <= 1  # the grid shows the average, not G
