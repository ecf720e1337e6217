"""Training is a pure function of its config (two runs of one fixed-seed
config end with bitwise the same G and D), and every registry entry (norm, loss, arch, metric) has its
config file or schedule key, and every config file its entry."""
from __future__ import annotations

from importlib import resources

import pytest
import torch
from omegaconf import OmegaConf

from conftest import SMALL, compose_train
from sngan.run.checkpoints import load_checkpoint
from sngan.run.layout import list_checkpoints
from sngan.train import train

STEPS = 3
TINY = SMALL + [f"train.steps={STEPS}", "arch.g_ch=16", "arch.d_ch=8", "seed=7"]


def final_checkpoint(run_dir) -> dict:
    return load_checkpoint(list_checkpoints(str(run_dir))[0])  # the digest is checked on the way


@pytest.mark.parametrize("overrides", [
    ["norm=sn"],                                       # SN's u/v buffers, one D step per G step
    ["norm=gp", "loss=wgan", "optim.n_dis=2"],         # GP's interpolation stream, several D steps
], ids=["sn", "gp"])
def test_two_runs_of_one_config_end_with_bitwise_equal_models(tmp_path, overrides):
    states = []
    for name in ("first", "second"):
        train(compose_train(TINY + overrides, run_dir=tmp_path / name))
        states.append(final_checkpoint(tmp_path / name))
    first, second = states
    assert first["step"] == second["step"] == STEPS
    for model in ("G", "D"):
        assert first[model].keys() == second[model].keys(), model
        assert first[model], model
        for key, value in first[model].items():
            assert torch.equal(value, second[model][key]), f"{model}.{key} differs between the two runs"


# ---- registries against the shipped config files ------------------------------------------------------

def presets(group: str) -> set[str]:
    """Names of the conf/<group>/*.yaml files shipped inside the package (sngan.conf)."""
    folder = resources.files("sngan.conf").joinpath(group)
    return {p.name[:-len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml")}


def registry(group: str) -> dict:
    if group == "norm":
        from sngan.gan.norms import NORMS
        return NORMS
    if group == "loss":
        from sngan.gan.losses import LOSSES
        return LOSSES
    from sngan.gan.archs import ARCHS
    return ARCHS


@pytest.mark.parametrize("group", ["norm", "loss", "arch"])
def test_every_registered_entry_has_a_config_file_and_vice_versa(group):
    entries = set(registry(group))
    files = presets(group)
    assert entries, group
    assert entries - files == set(), f"registered {group}s without conf/{group}/<name>.yaml"
    for name in entries:  # the file named after an entry selects that entry
        cfg = OmegaConf.load(str(resources.files("sngan.conf").joinpath(group, f"{name}.yaml")))
        assert cfg.name == name, (group, name)
    for name in files:  # and every file, as composed (a preset such as a default may pick one), selects an entry
        chosen = compose_train([f"{group}={name}"])[group].name
        assert chosen in entries, f"conf/{group}/{name}.yaml selects {group} '{chosen}', which is not registered"


def test_every_registered_metric_has_a_schedule_key():
    from sngan.metrics import METRICS

    every = compose_train([]).metrics.every
    assert METRICS
    missing = set(METRICS) - set(every)
    assert not missing, f"metrics without a metrics.every.<name> key in the train config: {sorted(missing)}"
    for name in METRICS:
        assert isinstance(every[name], int) and every[name] >= 1, (name, every[name])
