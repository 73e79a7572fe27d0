"""The code's shape: the import-linter contracts (layers, no cycles: the three cycles of the first version —
serving -> serve.apps -> stages.augment -> serving, check <-> augment/carla, scenario.layout <-> junction — among
them), ruff, and module sizes."""
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
LONG_MODULES = {"sdg/render/kernels.py"}  # one numba kernel and the helpers it inlines (see its module comment)


def _tool(name: str) -> str:
    exe = BIN / name
    return str(exe) if exe.exists() else (shutil.which(name) or pytest.skip(f"{name} is not installed"))


def test_import_contracts_hold():
    r = subprocess.run([_tool("lint-imports"), "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert "2 kept, 0 broken" in r.stdout


def test_a_reintroduced_cycle_is_caught(tmp_path):
    """Copy the package, add back the first version's check <-> augment tie, and the contract must break."""
    for d in ("sdg", "serve"):
        shutil.copytree(REPO / d, tmp_path / d, ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    nim = tmp_path / "sdg/augment/nim.py"
    nim.write_text(nim.read_text() + "\n\ndef _verdict_type():\n    from sdg.check import Verdict\n\n    return Verdict\n")
    r = subprocess.run([_tool("lint-imports"), "--no-cache"], cwd=tmp_path, capture_output=True, text=True,
                       timeout=300, env={"PYTHONPATH": str(tmp_path), "PATH": str(BIN)})
    assert r.returncode != 0 and "BROKEN" in r.stdout
    assert re.search(r"sdg\.augment(\.nim)? -> sdg\.check", r.stdout), r.stdout[-3000:]


def test_modules_stay_small():
    big = {str(p.relative_to(REPO)): n for p in sorted((REPO / "sdg").rglob("*.py")) + sorted((REPO / "serve").rglob("*.py"))
           if (n := len(p.read_text().splitlines())) > 600}
    assert set(big) <= LONG_MODULES, big
