"""pyproject.toml: ranges that admit patch releases, runtime dependencies that the package imports, a license."""
from __future__ import annotations

import os
import re
import tomllib

import pytest

import sngan

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PYPROJECT = os.path.join(ROOT, "pyproject.toml")
pytestmark = pytest.mark.skipif(not os.path.exists(PYPROJECT), reason="needs the source checkout")


def project() -> dict:
    with open(PYPROJECT, "rb") as f:
        return tomllib.load(f)["project"]


def name_of(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].lower()


def package_imports(module: str) -> bool:
    """Whether any module of the installed sngan package imports `module`."""
    pattern = re.compile(rf"^\s*(import|from)\s+{module}\b", re.M)
    for root, _, files in os.walk(os.path.dirname(sngan.__file__)):
        for name in files:
            if name.endswith(".py") and pattern.search(open(os.path.join(root, name)).read()):
                return True
    return False


def all_requirements(p: dict) -> list[str]:
    return list(p["dependencies"]) + [r for extra in p.get("optional-dependencies", {}).values() for r in extra]


def test_no_pins_that_shut_out_patch_releases():
    for req in all_requirements(project()):
        assert "<=" not in req and "==" not in req, req
        upper = re.search(r"<\s*([\d.]+)", req)
        if upper:  # an exclusive bound on a release series: <2.15 admits every 2.14.x
            assert upper.group(1).count(".") <= 1, req


def test_runtime_dependencies_are_what_the_package_imports():
    p = project()
    runtime = {name_of(r) for r in p["dependencies"]}
    assert "scipy" not in runtime and not package_imports("scipy")
    assert "scipy" in {name_of(r) for r in p["optional-dependencies"]["test"]}  # the tests use it
    assert ("pillow" in runtime) == package_imports("PIL")
    for name in ("torch", "torchvision", "hydra-core", "omegaconf", "numpy", "matplotlib", "torch-fidelity"):
        assert name in runtime, name


def test_license_is_mit_and_shipped():
    p = project()
    text = open(os.path.join(ROOT, "LICENSE")).read()
    assert "MIT License" in text and "the sngan authors" in text
    assert p.get("license") == "MIT" or p.get("license") == {"file": "LICENSE"}
    assert "LICENSE" in p.get("license-files", ["LICENSE"])


def test_the_installed_version_is_the_packages_own():
    """One version, written in sngan/__init__.py: the installed metadata reads it from there."""
    import importlib.metadata

    import sngan

    assert importlib.metadata.version("sngan") == sngan.__version__
