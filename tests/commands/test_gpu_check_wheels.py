"""scripts/gpu_check.sh: which wheels --prepare fetches for which Python, and which folder each mode installs from.

No download: the script runs from a copy in a temporary checkout with GPU_CHECK_PIP set to a fake pip that records
its command lines and lays out files named as pip would name them (PyYAML compiled per Python, the rest pure)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(REPO, "scripts", "gpu_check.sh")
HERE = "%d.%d" % sys.version_info[:2]
OTHER = "3.12" if HERE != "3.12" else "3.11"
PACKAGES = {"hydra_core", "omegaconf", "PyYAML", "torch_fidelity", "pytest", "iniconfig", "pluggy", "packaging",
            "Pygments", "antlr4_python3_runtime"}

FAKE_PIP = textwrap.dedent('''
    """Records its argv as one JSON line in $FAKE_PIP_LOG; download/wheel make empty wheels as pip would name them."""
    import json, os, sys

    args = sys.argv[1:]
    created = []

    def value(flag):
        return args[args.index(flag) + 1] if flag in args else None

    def make(folder, name):
        path = os.path.join(folder, name)
        if not os.path.exists(path):  # pip skips a file already in the destination
            open(path, "w").write(name)
            created.append(name)

    if args[0] == "download":
        version = (value("--python-version") or "%d.%d" % sys.version_info[:2]).replace(".", "")
        for spec in (a for a in args if "==" in a):
            name, ver = spec.split("==")
            if name == "PyYAML":
                make(value("-d"), f"PyYAML-{ver}-cp{version}-cp{version}-manylinux_2_17_x86_64.whl")
            else:
                make(value("-d"), f"{name.replace('-', '_')}-{ver}-py3-none-any.whl")
    elif args[0] == "wheel":
        make(value("-w"), "antlr4_python3_runtime-4.9.3-py3-none-any.whl")
    with open(os.environ["FAKE_PIP_LOG"], "a") as f:
        f.write(json.dumps({"argv": args, "created": created}) + "\\n")
''')


@pytest.fixture
def checkout(tmp_path):
    """A checkout holding only the script (and empty sngan/, conf/), with the fake pip on GPU_CHECK_PIP."""
    root = tmp_path / "checkout"
    (root / "scripts").mkdir(parents=True)
    shutil.copy(SCRIPT, root / "scripts" / "gpu_check.sh")
    (root / "sngan").mkdir()
    (root / "conf").mkdir()
    (tmp_path / "fake_pip.py").write_text(FAKE_PIP)
    (tmp_path / "tmp").mkdir()
    return root


def run(checkout, *args, python=sys.executable):
    tmp = checkout.parent
    env = {**os.environ, "PYTHON": python, "GPU_CHECK_PIP": f"{sys.executable} {tmp / 'fake_pip.py'}",
           "FAKE_PIP_LOG": str(tmp / "pip.log"), "OUT": str(tmp / "out"), "TMPDIR": str(tmp / "tmp")}
    result = subprocess.run(["bash", str(checkout / "scripts" / "gpu_check.sh"), *args], capture_output=True,
                            text=True, env=env, timeout=120)
    log = tmp / "pip.log"
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return result, calls


def wheels(folder):
    return sorted(p.name for p in folder.glob("*.whl"))


def flag(argv, name):
    return argv[argv.index(name) + 1] if name in argv else None


@pytest.mark.parametrize("gpu_python", ["3.11", "3.12"])
def test_prepare_fetches_the_gpu_pythons_wheels_into_whl_and_this_pythons_into_whl_local(checkout, gpu_python):
    args = ["--prepare"] if gpu_python == "3.12" else ["--prepare", "--python-version", gpu_python]
    result, calls = run(checkout, *args)
    assert result.returncode == 0, result.stdout + result.stderr
    gpu_dl, antlr, local_dl = calls
    # the GPU machine's: its Python, CPython, manylinux x86_64, binaries only, into .whl/
    assert gpu_dl["argv"][0] == "download" and flag(gpu_dl["argv"], "-d") == str(checkout / ".whl")
    assert flag(gpu_dl["argv"], "--python-version") == gpu_python
    assert flag(gpu_dl["argv"], "--implementation") == "cp" and "--only-binary=:all:" in gpu_dl["argv"]
    assert "manylinux2014_x86_64" in gpu_dl["argv"]
    assert antlr["argv"][0] == "wheel" and flag(antlr["argv"], "-w") == str(checkout / ".whl")
    # this machine's: pip's own Python and platform (no --python-version, no --platform), into .whl-local/, where
    # the pure-Python wheels were copied first: only the compiled PyYAML is fetched for it
    assert local_dl["argv"][0] == "download" and flag(local_dl["argv"], "-d") == str(checkout / ".whl-local")
    assert "--python-version" not in local_dl["argv"] and "--platform" not in local_dl["argv"]
    assert [n.split("-")[0] for n in local_dl["created"]] == ["PyYAML"]
    # the same pinned versions in both calls: one version of each package
    pins = [a for a in gpu_dl["argv"] if "==" in a]
    assert pins == [a for a in local_dl["argv"] if "==" in a] and len({p.split("==")[0] for p in pins}) == len(pins)
    for folder, python in ((checkout / ".whl", gpu_python), (checkout / ".whl-local", HERE)):
        assert (folder / "python-version").read_text().strip() == python
        names = wheels(folder)
        assert {n.split("-")[0] for n in names} == PACKAGES and len(names) == len(PACKAGES)
        tag = "cp" + python.replace(".", "")
        assert [n for n in names if n.startswith("PyYAML-")] == [f"PyYAML-6.0.4-{tag}-{tag}-manylinux_2_17_x86_64.whl"]
    assert f"for Python {gpu_python} (the GPU machine's" in result.stdout


@pytest.mark.parametrize("args", [["--prepare", "--python-version", "312"], ["--cpu-smoke", "--python-version", "3.12"],
                                  ["--prepare", "--python-version"]])
def test_a_bad_python_version_is_refused_in_one_line(checkout, args):
    result, calls = run(checkout, *args)
    assert result.returncode == 2 and calls == []
    assert "--python-version X.Y" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def prepared(checkout, gpu_python, local_python):
    """.whl/ and .whl-local/ as --prepare leaves them, for the given Pythons."""
    for folder, python in ((".whl", gpu_python), (".whl-local", local_python)):
        (checkout / folder).mkdir()
        tag = "cp" + python.replace(".", "")
        for name in ("hydra_core-1.3.8-py3-none-any.whl", f"PyYAML-6.0.4-{tag}-{tag}-manylinux_2_17_x86_64.whl"):
            (checkout / folder / name).write_text(name)
        (checkout / folder / "python-version").write_text(python + "\n")


# "python -S": no site-packages, so hydra & co. are missing and the script goes to its wheels
BARE_PYTHON = f"{sys.executable} -S"


def test_gpu_run_refuses_wheels_made_for_another_python_in_one_line_before_installing(checkout):
    prepared(checkout, OTHER, HERE)
    result, calls = run(checkout, python=BARE_PYTHON)
    assert result.returncode == 2 and calls == []  # pip never ran
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f".whl/ holds wheels for Python {OTHER}" in lines[0] and f"is Python {HERE}" in lines[0]
    assert f"'bash scripts/gpu_check.sh --prepare --python-version {HERE}'" in lines[0]
    assert "installed in" not in result.stdout


def test_gpu_run_refuses_wheels_without_a_recorded_python(checkout):
    prepared(checkout, HERE, HERE)
    (checkout / ".whl" / "python-version").unlink()
    result, calls = run(checkout, python=BARE_PYTHON)
    assert result.returncode == 2 and calls == [] and len(result.stderr.strip().splitlines()) == 1
    assert "an unrecorded Python" in result.stderr and f"--prepare --python-version {HERE}" in result.stderr


def test_gpu_run_installs_from_whl_when_made_for_its_python(checkout):
    prepared(checkout, HERE, OTHER)
    result, calls = run(checkout, python=BARE_PYTHON)  # then stops at its CUDA check (torch is not importable)
    install = calls[0]["argv"]
    assert [c["argv"][0] for c in calls] == ["install"] and "--no-index" in install and "--target" in install
    assert sorted(os.path.basename(a) for a in install if a.endswith(".whl")) == wheels(checkout / ".whl")
    assert all(os.path.dirname(a) == str(checkout / ".whl") for a in install if a.endswith(".whl"))
    assert result.returncode == 2


@pytest.mark.parametrize("gpu_python", ["3.11", "3.12"])
def test_cpu_smoke_installs_the_wheels_made_for_this_python(checkout, gpu_python):
    prepared(checkout, gpu_python, HERE)
    result, calls = run(checkout, "--cpu-smoke", python=BARE_PYTHON)  # the steps then fail: no torch under -S
    assert [c["argv"][0] for c in calls] == ["install"], result.stderr
    installed = [a for a in calls[0]["argv"] if a.endswith(".whl")]
    assert all(os.path.dirname(a) == str(checkout / ".whl-local") for a in installed)
    assert f"cp{HERE.replace('.', '')}" in " ".join(installed)
    assert f"Python {HERE}, wheels from .whl-local/" in result.stdout


def test_cpu_smoke_falls_back_on_whl_made_for_this_python(checkout):
    prepared(checkout, HERE, HERE)
    shutil.rmtree(checkout / ".whl-local")
    result, calls = run(checkout, "--cpu-smoke", python=BARE_PYTHON)
    assert all(os.path.dirname(a) == str(checkout / ".whl") for a in calls[0]["argv"] if a.endswith(".whl"))


def test_cpu_smoke_refuses_when_no_folder_was_made_for_this_python(checkout):
    prepared(checkout, OTHER, OTHER)
    result, calls = run(checkout, "--cpu-smoke", python=BARE_PYTHON)
    assert result.returncode == 2 and calls == [] and len(result.stderr.strip().splitlines()) == 1
    assert f".whl-local/ holds wheels for Python {OTHER}" in result.stderr
    assert "'bash scripts/gpu_check.sh --prepare' with this Python" in result.stderr


def test_cpu_smoke_refuses_when_its_packages_differ_from_the_gpu_machines(checkout):
    prepared(checkout, OTHER, HERE)
    (checkout / ".whl" / "hydra_core-1.3.8-py3-none-any.whl").rename(checkout / ".whl" / "hydra_core-1.3.7-py3-none-any.whl")
    result, calls = run(checkout, "--cpu-smoke", python=BARE_PYTHON)
    assert result.returncode == 2 and calls == [] and len(result.stderr.strip().splitlines()) == 1
    assert "different packages or versions" in result.stderr
