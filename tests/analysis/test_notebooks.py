"""The shipped notebooks: stored clean (no outputs), and each runs top to bottom from its own folder.

Each notebook is executed by a Jupyter kernel through nbclient, with the notebook folder as working directory,
``IECO_NOTEBOOK_SMALL=1`` (small settings) and temporary files under the test's directory. The checks: no cell
raises, the figures appear as PNG outputs, and the summary dict of the last cell holds finite numbers.
"""

from __future__ import annotations

import ast
import base64
import json
import math
from pathlib import Path
from typing import Any

import pytest

NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "analysis" / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
EXPECTED_FIGURES = {"baseline_walkthrough.ipynb": 11, "theses.ipynb": 4, "sensitivity_discovery.ipynb": 4}


def test_the_three_notebooks_ship() -> None:
    assert sorted(p.name for p in NOTEBOOKS) == sorted(EXPECTED_FIGURES)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stored_without_outputs(path: Path) -> None:
    notebook = json.loads(path.read_text(encoding="utf-8"))
    assert notebook["nbformat"] == 4
    assert notebook["metadata"]["kernelspec"]["language"] == "python"
    for cell in notebook["cells"]:
        assert cell["cell_type"] in ("code", "markdown")
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [], f"{path.name}: cell {cell.get('id')} has stored outputs"
            assert cell["execution_count"] is None
            ast.parse("".join(cell["source"]), filename=f"{path.name}[{cell.get('id')}]")


def _numbers(value: Any) -> list[float]:
    if isinstance(value, bool):
        return []
    if isinstance(value, int | float):
        return [float(value)]
    if isinstance(value, dict):
        return [n for v in value.values() for n in _numbers(v)]
    if isinstance(value, list | tuple):
        return [n for v in value for n in _numbers(v)]
    return []


@pytest.mark.parametrize("name", sorted(EXPECTED_FIGURES))
def test_notebook_runs_from_its_folder(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("IECO_NOTEBOOK_SMALL", "1")
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setenv("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    notebook = nbformat.read(NOTEBOOK_DIR / name, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=240, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOK_DIR)}})
    client.execute()
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [base64.b64decode(o["data"]["image/png"]) for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == EXPECTED_FIGURES[name]
    assert all(i[:8] == b"\x89PNG\r\n\x1a\n" and len(i) > 5000 for i in images)
    summary = ast.literal_eval(notebook.cells[-1].outputs[-1]["data"]["text/plain"])
    numbers = _numbers(summary)
    assert numbers and all(math.isfinite(n) for n in numbers), summary
    assert not list(NOTEBOOK_DIR.glob("results")), "a notebook wrote into the repository"
