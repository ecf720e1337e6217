"""`sngan sample`'s generator: folded weights compute exactly what the trained generator computes."""
from __future__ import annotations

import torch

from conftest import generator_for
from sngan.build import load_generator
from sngan.run.checkpoints import load_checkpoint
from sngan.run.layout import list_checkpoints
from sngan.train import train


def test_folded_generator_matches_the_eval_mode_generator_with_sn_in_g(small_cfg, tmp_path):
    train(small_cfg("norm_g=sn", "arch.g_ch=16", "arch.d_ch=8", "metrics.enabled=false"))
    path = list_checkpoints(str(tmp_path / "run"))[0]
    folded, cfg = load_generator(path, torch.device("cpu"), prefer_ema=False, with_config=True)
    assert not any(hasattr(m, "parametrizations") for m in folded.modules())
    reference = generator_for(cfg)
    reference.load_state_dict(load_checkpoint(path)["G"])
    reference.eval()  # u, v as saved, no further power iteration
    z = torch.randn(4, cfg.z_dim)
    torch.testing.assert_close(folded(z), reference(z))
