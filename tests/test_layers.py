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
    tie = "\n\ndef _verdict_type():\n    from sdg.check import Verdict\n\n    return Verdict\n"
    nim.write_text(nim.read_text() + tie)
    r = subprocess.run([_tool("lint-imports"), "--no-cache"], cwd=tmp_path, capture_output=True, text=True,
                       timeout=300, env={"PYTHONPATH": str(tmp_path), "PATH": str(BIN)})
    assert r.returncode != 0 and "BROKEN" in r.stdout
    assert re.search(r"sdg\.augment(\.nim)? -> sdg\.check", r.stdout), r.stdout[-3000:]


def test_modules_stay_small():
    files = sorted((REPO / "sdg").rglob("*.py")) + sorted((REPO / "serve").rglob("*.py"))
    big = {str(p.relative_to(REPO)): n for p in files
           if (n := len(p.read_text().splitlines())) > 600}
    assert set(big) <= LONG_MODULES, big


def test_every_module_is_in_a_layer():
    """A new top-level module must take its place in the layers contract, or it escapes it."""
    import tomllib

    cfg = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
    layers = next(c for c in cfg["contracts"] if c["type"] == "layers")["layers"]
    named = {m.strip() for layer in layers for m in layer.replace("|", ":").split(":")}
    mods = {f"sdg.{p.stem}" for p in (REPO / "sdg").glob("*.py") if p.stem != "__init__"}
    pkgs = {f"sdg.{p.parent.name}" for p in (REPO / "sdg").glob("*/__init__.py")}
    covered = lambda m: m in named or any(n.startswith(m + ".") for n in named)  # noqa: E731
    assert sorted(m for m in mods | pkgs if not covered(m)) == []
