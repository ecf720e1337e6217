"""Option sets carry no defaults of their own (conf/ holds every default), one definition of what
identifies a run serves the folder name, the resume guard and the HParams tab, and a start composes once."""
from __future__ import annotations

import dataclasses
import importlib
import inspect
import os
import pkgutil
import subprocess
import sys

import pytest
from omegaconf import OmegaConf

import sngan
from conftest import compose_train
from sngan.errors import ConfigError
from sngan.gan.norms.registry import NORMS, build_norm
from sngan.metrics.registry import METRICS
from sngan.options import parse
from sngan.run import identity
from sngan.run.naming import defining_overrides
from sngan.train.options import OptimOptions


def _option_classes() -> list[type]:
    """Every frozen dataclass that `parse` fills from a YAML node: classes named *Options or with a parse method,
    and the Options of every registered norm and metric."""
    found = set()
    for info in pkgutil.walk_packages(sngan.__path__, "sngan."):
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if (inspect.isclass(obj) and dataclasses.is_dataclass(obj) and obj.__module__ == module.__name__
                    and (name.endswith("Options") or hasattr(obj, "parse"))):
                found.add(obj)
    found |= {entry.Options for entry in NORMS.values()} | {entry.Options for entry in METRICS.values()}
    return sorted(found, key=lambda c: f"{c.__module__}.{c.__qualname__}")


def test_option_sets_carry_no_defaults_of_their_own():
    classes = _option_classes()
    assert len(classes) >= 15, [c.__qualname__ for c in classes]   # the walk found the registries' option sets
    with_defaults = {f"{c.__module__}.{c.__qualname__}.{f.name}" for c in classes for f in dataclasses.fields(c)
                     if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING}
    assert not with_defaults, f"defaults belong in conf/*.yaml, not in code: {sorted(with_defaults)}"


def test_a_key_missing_from_yaml_is_an_error_not_a_silent_default():
    node = OmegaConf.create(OmegaConf.to_container(compose_train([]).optim))  # every key conf/ defines
    parse(OptimOptions, node, "optim")
    del node["beta2"]
    with pytest.raises(ConfigError, match="optim.beta2"):
        parse(OptimOptions, node, "optim")


@pytest.mark.parametrize("norm", sorted(NORMS))
def test_every_norm_option_comes_from_its_yaml(norm):
    cfg = compose_train([f"norm={norm}"])
    options = build_norm(cfg.norm).options
    yaml_keys = set(cfg.norm) - {"name"}
    assert {f.name for f in dataclasses.fields(options)} == yaml_keys


# (override, defines the run?): what the folder name, the resume guard and the HParams tab must agree on
IDENTITY_CASES = [
    ("dataset.hflip=true", True),        # once named but not guarded
    ("norm.power_iters=3", True),
    ("optim.beta2=0.99", True),
    ("optim.d_forward=separate", True),
    ("batch_size=32", True),
    ("ema.enabled=false", True),     # the digits recipe turns EMA on,
    ("norm_g=sn", True),
    ("arch.init=paper", True),
    ("train.steps=7", False),
    ("train.log_every=3", False),
    ("metrics.every.sigma=3", False),
    ("speed.channels_last=true", False),
    ("device=cpu", False),
    ("dataset.root=/elsewhere", False),
]


@pytest.mark.parametrize("override,defining", IDENTITY_CASES)
def test_name_guard_and_hparams_agree_on_what_defines_a_run(override, defining):
    base = OmegaConf.to_container(compose_train(["dataset=digits"]), resolve=True)
    changed = OmegaConf.to_container(compose_train(["dataset=digits", override]), resolve=True)
    in_name = bool(defining_overrides([override]))
    guarded = bool(identity.changes(base, changed))
    in_hparams = identity.hparams(base) != identity.hparams(changed)
    assert (in_name, guarded, in_hparams) == (defining, defining, defining)


COUNT_COMPOSITIONS = """
import sys
from hydra._internal.hydra import Hydra
from sngan import cli

calls = []
original = Hydra.compose_config

def counting(self, *args, **kwargs):
    calls.append(1)
    return original(self, *args, **kwargs)

Hydra.compose_config = counting
try:
    cli.main(sys.argv[1:])
finally:
    print("compositions:", len(calls))
"""


def test_one_start_composes_the_config_once(tmp_path):
    # in its own process: a start leaves Hydra's global state set, as it should in a CLI
    result = subprocess.run([sys.executable, "-c", COUNT_COMPOSITIONS, "train", "dataset=ring8", "arch=mlp",
                             "train.steps=2", "train.progress=false", f"hydra.run.dir={tmp_path / 'run'}"],
                            cwd=tmp_path, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "run" / "checkpoints").is_dir()
    assert "compositions: 1" in result.stdout, result.stdout
