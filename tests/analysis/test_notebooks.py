"""The shipped notebooks: valid nbformat 4 JSON, no stored outputs, code cells that compile and run."""

from __future__ import annotations

import ast
import json
import tempfile
from pathlib import Path
from typing import Any

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "analysis" / "notebooks").glob("*.ipynb"))


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _code_cells(notebook: dict[str, Any]) -> list[tuple[str, str]]:
    return [(cell.get("id", str(i)), "".join(cell["source"]))
            for i, cell in enumerate(notebook["cells"]) if cell["cell_type"] == "code"]


def test_there_is_a_quickstart_notebook() -> None:
    assert "quickstart.ipynb" in [p.name for p in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_clean_nbformat4(path: Path) -> None:
    notebook = _load(path)
    assert notebook["nbformat"] == 4
    assert notebook["metadata"]["kernelspec"]["language"] == "python"
    for cell in notebook["cells"]:
        assert cell["cell_type"] in ("code", "markdown")
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [], "notebooks are stored without outputs"
            assert cell["execution_count"] is None


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_code_cells_compile(path: Path) -> None:
    cells = _code_cells(_load(path))
    assert cells
    for cell_id, source in cells:
        try:
            ast.parse(source, filename=f"{path.name}[{cell_id}]")
        except SyntaxError as exc:
            pytest.fail(f"{path.name}, cell {cell_id}: {exc}")


def test_quickstart_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Execute the quickstart's code cells in order, as a kernel would (Agg backend, temp files under tmp_path)."""
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    namespace: dict[str, Any] = {"__name__": "__main__"}
    try:
        for cell_id, source in _code_cells(_load(NOTEBOOKS[[p.name for p in NOTEBOOKS].index("quickstart.ipynb")])):
            exec(compile(source, f"quickstart.ipynb[{cell_id}]", "exec"), namespace)
    finally:
        plt.close("all")
    model = namespace["model"]
    assert list(model["step"]) == list(range(12))
    assert namespace["figure_paths"][0].name == "price_index.png"
    assert all(p.is_file() and tmp_path in p.parents for p in namespace["figure_paths"])
