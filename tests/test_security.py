"""The security promises of docs/security.md that are checked without a Ray cluster or a mount.

* Product code never unpickles, evaluates or executes data: no ``pickle``/``marshal``/``shelve``/``dill``
  imports, no ``eval``/``exec``, no ``read_pickle``, no ``allow_pickle=True``, no ``yaml.load`` (AST scan).
* A config value that looks like code stays a string: it is rejected by name, nothing runs.
* A run and a sweep write nothing outside their output directory (working directory and HOME checked).
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PRODUCT = ("market", "agents", "experiments", "analysis")
FORBIDDEN_MODULES = {"pickle", "cPickle", "marshal", "shelve", "dill", "cloudpickle", "joblib"}
FORBIDDEN_CALLS = {"eval", "exec", "read_pickle", "to_pickle", "__import__"}


def product_files() -> list[Path]:
    return sorted(p for package in PRODUCT for p in (REPO / package).rglob("*.py"))


def test_product_code_never_unpickles_or_evaluates() -> None:
    offences = []
    for path in product_files():
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                offences += [f"{path}: import {a.name}" for a in node.names
                             if a.name.split(".")[0] in FORBIDDEN_MODULES]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in FORBIDDEN_MODULES:
                offences.append(f"{path}: from {node.module} import")
            elif isinstance(node, ast.Call):
                name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                if name in FORBIDDEN_CALLS:
                    offences.append(f"{path}:{node.lineno}: {name}()")
                if any(k.arg == "allow_pickle" and getattr(k.value, "value", False) is True for k in node.keywords):
                    offences.append(f"{path}:{node.lineno}: allow_pickle=True")
                if name == "load" and getattr(node.func, "value", None) is not None and \
                        getattr(node.func.value, "id", "") == "yaml":  # type: ignore[union-attr]
                    offences.append(f"{path}:{node.lineno}: yaml.load")
    assert len(product_files()) > 30
    assert offences == []


def test_code_in_a_config_value_is_a_rejected_name_and_never_runs(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    text = (REPO / "experiments" / "configs" / "validation" / "logit_duopoly.toml").read_text()
    payload = f"__import__('os').system('touch {marker}')"
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace('strategy = "best_response"', f'strategy = "{payload}"', 1))
    proc = subprocess.run([sys.executable, "-m", "experiments.cli", "validate", str(bad)], cwd=REPO,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 2
    assert "unknown strategy" in proc.stderr
    assert not marker.exists()


@pytest.mark.slow
def test_run_and_sweep_write_only_into_their_output_directory(tmp_path: Path) -> None:
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    home.mkdir()
    shutil.copy(REPO / "experiments" / "configs" / "baseline.toml", work / "base.toml")
    (work / "sweep.toml").write_text('base = "base.toml"\nreplications = 2\n[settings]\n"simulation.steps" = 2\n'
                                     '"segments.0.n_agents" = 20\n"segments.1.n_agents" = 20\n'
                                     '"segments.2.n_agents" = 20\n')
    before = sorted(p.name for p in work.iterdir())
    env = {**os.environ, "HOME": str(home), "PYTHONPATH": str(REPO)}
    for args in (["run", "base.toml", "--steps", "2", "--out", "out_run"],
                 ["sweep", "sweep.toml", "--out", "out_sweep", "--workers", "1"]):
        proc = subprocess.run([sys.executable, "-m", "experiments.cli", *args], cwd=work, env=env,
                              capture_output=True, text=True, timeout=300, check=False)
        assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in work.iterdir()) == sorted([*before, "out_run", "out_sweep"])
    assert list(home.iterdir()) == []
