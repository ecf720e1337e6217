"""No dead code: vulture finds no unused function, class, variable or attribute in sngan/ (at 60% confidence and
above), the names used only through registries, entry-point tables and framework callbacks listed in
vulture_whitelist.py."""
from __future__ import annotations

import pathlib
import subprocess
import sys

import sngan


def test_vulture_finds_no_dead_code():
    package = pathlib.Path(sngan.__file__).parent
    whitelist = pathlib.Path(__file__).with_name("vulture_whitelist.py")
    proc = subprocess.run([sys.executable, "-m", "vulture", str(package), str(whitelist), "--min-confidence", "60"],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and not proc.stdout.strip(), proc.stdout + proc.stderr
