"""Package layering and module hygiene, checked on the source with ``ast`` (nothing is imported).

The layers (STYLE.md, "What that means for us"):

* ``market/`` holds mechanics; only ``market/model.py`` (the Mesa model) imports ``agents``, and only it and
  ``market/mesa_support.py`` (seeds for ``mesa.batch_run``, the data collector) use Mesa; no other module of
  ``market`` imports ``market.model``: the rest of ``market`` is a leaf.
* ``agents/`` decide; they may use ``market`` mechanics but never the model that drives them.
* ``market/`` and ``agents/`` never import ``experiments`` or ``analysis``.
* ``analysis/`` works on data frames: no ``experiments``, no agents, no model.
* one random source per model: no stdlib ``random`` and no legacy global ``np.random`` calls in the product.
* Ray is imported lazily: importing the runner and the CLI does not import it.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("market", "agents", "experiments", "analysis")
ALLOWED_NP_RANDOM = {"default_rng", "Generator", "SeedSequence", "PCG64", "BitGenerator"}


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_in_source(source: str, module: str, is_package: bool = False) -> set[str]:
    """Every module a source file imports, anywhere in it (top level, functions, TYPE_CHECKING blocks).

    ``from a import b`` records both ``a`` and ``a.b`` (``b`` may be a submodule); relative imports are
    resolved against ``module``.
    """
    found: set[str] = set()
    package = module.split(".") if is_package else module.split(".")[:-1]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                stem = ".".join([*base, node.module] if node.module else base)
            else:
                stem = node.module or ""
            found.add(stem)
            found.update(f"{stem}.{alias.name}" for alias in node.names)
    return found


def imports_of(path: Path) -> set[str]:
    return imports_in_source(path.read_text(), module_name(path), path.name == "__init__.py")


def names(package: str) -> list[Path]:
    return sorted((REPO_ROOT / package).glob("**/*.py"))


def violations(paths: list[Path], forbidden: tuple[str, ...]) -> list[str]:
    out = []
    for path in paths:
        for name in sorted(imports_of(path)):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                out.append(f"{path.relative_to(REPO_ROOT)} imports {name}")
    return out


def test_import_parser_sees_every_form() -> None:
    source = textwrap.dedent(
        """
        import numpy as np
        from agents.pricing import X
        from market import model
        from . import clearing
        from .demand import EXCLUDED
        from typing import TYPE_CHECKING
        if TYPE_CHECKING:
            from experiments.run import RunResult
        def f():
            import ray
        """
    )
    found = imports_in_source(source, "market.fleet")
    assert {"numpy", "agents.pricing", "market.model", "market.clearing", "market.demand", "experiments.run",
            "ray"} <= found


def test_packages_exist() -> None:
    for package in ("market", "agents", "experiments"):
        assert names(package), package
    assert (REPO_ROOT / "market" / "model.py").is_file()


def test_only_the_model_imports_agents_and_the_model() -> None:
    """Every ``market`` module but ``model.py`` is a leaf: it imports neither ``agents`` nor ``market.model``."""
    leaf = [p for p in names("market") if p.name != "model.py"]
    assert violations(leaf, ("agents", "market.model")) == []
    assert "agents.provider" in imports_of(REPO_ROOT / "market" / "model.py")


def test_only_the_model_and_its_mesa_support_use_mesa() -> None:
    leaf = [p for p in names("market") if p.name not in ("model.py", "mesa_support.py")]
    assert violations(leaf, ("mesa",)) == []


def test_agents_do_not_import_the_model_experiments_or_analysis() -> None:
    assert violations(names("agents"), ("market.model", "experiments", "analysis")) == []


def test_market_does_not_import_experiments_or_analysis() -> None:
    assert violations(names("market"), ("experiments", "analysis")) == []


def test_analysis_sees_only_data() -> None:
    assert violations(names("analysis"), ("experiments", "agents", "market.model")) == []


@pytest.mark.parametrize("package", PACKAGES)
def test_no_global_random_state(package: str) -> None:
    """No stdlib ``random``; ``np.random`` only for generator construction (default_rng, SeedSequence, ...)."""
    bad: list[str] = []
    for path in names(package):
        tree = ast.parse(path.read_text())
        where = path.relative_to(REPO_ROOT)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import) and any(a.name == "random" for a in node.names):
                bad.append(f"{where}:{node.lineno} imports random")
            if isinstance(node, ast.ImportFrom) and node.module in ("random", "numpy.random"):
                legacy = {a.name for a in node.names} - ALLOWED_NP_RANDOM
                if node.module == "random" or legacy:
                    bad.append(f"{where}:{node.lineno} imports from {node.module}")
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Attribute)
                and node.value.attr == "random"
                and isinstance(node.value.value, ast.Name)
                and node.value.value.id in ("np", "numpy")
                and node.attr not in ALLOWED_NP_RANDOM
            ):
                bad.append(f"{where}:{node.lineno} uses np.random.{node.attr}")
    assert bad == []


def test_ray_is_imported_lazily() -> None:
    """Importing the runner, the CLI and the market does not import Ray (nor does it run anything)."""
    code = ("import sys; import experiments.run, experiments.cli, market.model, agents.provider; "
            "print('ray' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
                          check=True)
    assert proc.stdout.strip() == "False"
