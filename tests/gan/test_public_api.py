"""The public API (sngan.compose, sngan.models_from_config, sngan.load_generator) and the architecture guard:
a checkpoint whose models were built differently is refused with a clear message, never loaded half."""
from __future__ import annotations

import pytest
import torch

import sngan
from sngan.build import architecture_signature, build_models, model_recipe
from sngan.run import checkpoints as ckpt_io
from sngan.run.checkpoints import CheckpointError
from sngan.run.layout import list_checkpoints
from sngan.train import train


def test_compose_and_models_from_config_build_what_train_builds(small_cfg):
    cfg = small_cfg("train.steps=1", "train.ckpt_every=1")
    composed = sngan.compose(["train.steps=1"])  # the same defaults as the CLI
    assert composed.arch.name == cfg.arch.name and composed.norm.name == "sn"
    G, D = sngan.models_from_config(cfg)
    G2, D2 = build_models(model_recipe(cfg), "cpu")
    for a, b in ((G, G2), (D, D2)):  # seeded: the same init and SN vectors every time
        for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
            assert ka == kb and torch.equal(va, vb)
    preset = sngan.compose(["experiment=cifar10_resnet_sn"])
    Gp, Dp = sngan.models_from_config(preset)
    assert sum(p.numel() for p in Dp.parameters()) == 1_053_824


def test_load_generator_gives_the_ema_weights_with_sn_folded(small_cfg):
    cfg = small_cfg("train.steps=2", "ema.enabled=true", "ema.decay=0.5", "ema.start=0", "norm_g=sn")
    train(cfg)
    G = sngan.load_generator(cfg.run_dir)
    assert not G.training
    assert not any(hasattr(m, "parametrizations") for m in G.modules())  # SN folded into plain weights
    state = ckpt_io.load_checkpoint(list_checkpoints(cfg.run_dir)[0])
    reference = sngan.models_from_config(cfg)[0]
    reference.load_state_dict(state["G_ema"])
    reference.eval()
    z = torch.randn(3, int(cfg.z_dim))
    with torch.no_grad():
        assert torch.allclose(G(z), reference(z), atol=1e-6)
        other = sngan.models_from_config(cfg)[0].eval()
        other.load_state_dict(state["G"])
        assert not torch.allclose(G(z), other(z))  # the EMA copy, not G itself


def _rewrite(path: str, change) -> None:
    state = ckpt_io.load_checkpoint(path)
    state.pop("digest")
    change(state)
    ckpt_io._atomic_save(path, state)


def test_checkpoint_from_before_signatures_is_refused_for_changed_archs(small_cfg):
    cfg = small_cfg("train.steps=2")
    train(cfg)
    path = list_checkpoints(cfg.run_dir)[0]
    assert ckpt_io.load_checkpoint(path)["models"]["G"] == architecture_signature(sngan.models_from_config(cfg)[0])
    _rewrite(path, lambda state: state.pop("models"))  # as sngan 0.1 wrote them
    with pytest.raises(CheckpointError, match="sngan < 0.2.*arch=dcgan"):
        sngan.load_generator(path)
    with pytest.raises(CheckpointError, match="sngan < 0.2"):
        train(small_cfg("train.steps=4"))  # resuming it


def test_checkpoint_of_another_architecture_is_refused_even_with_resume_force(small_cfg):
    train(small_cfg("train.steps=2"))
    # BN eps is not in any state_dict: only the signature tells the two models apart
    with pytest.raises(CheckpointError, match="built differently"):
        train(small_cfg("train.steps=4", "arch.bn_eps=1e-5", "resume_force=true"))


def test_a_checkpoint_whose_layers_do_not_fit_is_a_clear_error(small_cfg):
    from sngan.build import generator_from_state

    cfg = small_cfg("train.steps=2")
    train(cfg)
    path = list_checkpoints(cfg.run_dir)[0]
    state = ckpt_io.load_checkpoint(path)
    state["G"].pop("bn0.weight")  # same signature, a tensor missing
    with pytest.raises(CheckpointError, match="does not fit.*bn0.weight"):
        generator_from_state(state, "cpu", prefer_ema=False, path=path)
    state["G_ema"] = None
    state["D"].pop("fc.bias")
    with pytest.raises(CheckpointError, match="'D' does not fit"):
        from sngan.train.resume import restore
        restore(state, {"D": sngan.models_from_config(cfg)[1]})
