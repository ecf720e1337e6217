"""sngan's one use of Hydra's private API (Hydra.create_main_hydra2 in sngan.launch._hydra, for one composition
per start and the sweeper without Hydra's own main): it lives in one function, and this test fails loudly when a
Hydra upgrade changes what it relies on."""
from __future__ import annotations

import inspect
import pathlib

import hydra

import sngan
from sngan import launch


def test_hydras_private_api_is_used_in_one_function_only():
    package = pathlib.Path(sngan.__file__).parent
    users = [str(p.relative_to(package)) for p in package.rglob("*.py") if "hydra._internal" in p.read_text()]
    assert users == ["launch.py"]
    assert "hydra._internal" not in inspect.getsource(launch).replace(inspect.getsource(launch._hydra), "")


def test_the_private_api_still_does_what_sngan_needs():
    assert hydra.__version__.startswith("1.3."), (
        f"Hydra {hydra.__version__}: sngan.launch._hydra uses Hydra 1.3's private Hydra.create_main_hydra2 and "
        f"create_config_search_path; check them against this version, then update this test")
    from hydra.core.global_hydra import GlobalHydra

    try:
        main = launch._hydra("train")
        for method in ("compose_config", "multirun"):
            assert callable(getattr(main, method, None)), method
        cfg = main.compose_config("train", ["train.steps=3"], run_mode=launch._run_mode(False))
        assert cfg.train.steps == 3 and "hydra" in cfg
    finally:
        GlobalHydra.instance().clear()  # as sngan's process would exit: the next composition starts clean
