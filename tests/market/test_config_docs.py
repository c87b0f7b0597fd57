"""The generated parameter reference: it matches the schema and documents every field of every section."""

from __future__ import annotations

import ast
import subprocess
import sys
import typing
from pathlib import Path

from pydantic import BaseModel

from market import config as schema
from market.config.docs import collect_sections, render_markdown

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "parameters.md"


def _reachable_models(annotation: object, found: list[type[BaseModel]]) -> list[type[BaseModel]]:
    """Every pydantic model reachable from an annotation (an independent walk over typing arguments)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if annotation not in found:
            found.append(annotation)
            for field in annotation.model_fields.values():
                _reachable_models(field.annotation, found)
        return found
    for arg in typing.get_args(annotation):
        _reachable_models(arg, found)
    return found


def test_docs_file_matches_the_schema() -> None:
    assert DOCS.is_file(), "docs/parameters.md is missing: run `make docs`"
    assert DOCS.read_text(encoding="utf-8") == render_markdown(), (
        "docs/parameters.md is out of date with market/config/schema.py: run `make docs`"
    )


def test_rendering_is_deterministic() -> None:
    assert render_markdown() == render_markdown()


def test_every_field_of_every_section_model_is_documented() -> None:
    models = _reachable_models(schema.ScenarioConfig, [])
    # The union members must be among them (the walk above sees through Annotated[Union, ...]).
    for member in (schema.CostPlusPricing, schema.BestResponsePricing, schema.ShareAcquisitionPricing,
                   schema.AdaptivePricing, schema.NoInvestment, schema.UtilizationTargetInvestment):
        assert member in models
    sections = collect_sections()
    text = render_markdown()
    for model in models:
        homes = [s for s in sections if s.model is model and s.same_as is None]
        assert len(homes) == 1, f"{model.__name__} should be documented in exactly one table"
        documented = {row.key.rsplit(".", 1)[-1] for row in homes[0].rows}
        assert documented == set(model.model_fields), model.__name__
        for row in homes[0].rows:
            assert f"| `{row.key}` |" in text
            assert row.description, f"{row.key} has no description"


def test_strategy_parameters_have_key_paths_per_strategy() -> None:
    text = render_markdown()
    assert '## `providers[].pricing` with `strategy = "cost_plus"`' in text
    assert "| `providers[].pricing.markup` | float ≥ 0 | `0.3` |" in text
    assert '## `providers[].investment` with `strategy = "utilization_target"`' in text
    assert "| `providers[].investment.target_utilization` | float in (0, 1] | `0.75` |" in text


def test_types_defaults_and_bounds_are_rendered() -> None:
    text = render_markdown()
    assert "| `simulation.steps` | int in [1, 100_000] | `60` |" in text
    assert "| `logit.mu` | float in [0.05, 10] | `0.25` |" in text
    assert '| `logit.utility_form` | "linear" \\| "log" | `"log"` |' in text
    assert "| `regions[].power_capacity_mw` | float > 0 | `inf` |" in text
    assert "| `providers[].unit_cost_usd_per_mtok` | float > 0 \\| unset | unset |" in text
    assert "| `segments` | array of tables, length ≥ 1 | required |" in text
    assert '| `regions` | array of tables, length ≥ 1 | `[{name = "global"}]` |' in text


def test_every_table_row_has_four_cells() -> None:
    for line in render_markdown().splitlines():
        if line.startswith("| `"):
            cells = [c for c in line.replace("\\|", "").split("|")[1:-1]]
            assert len(cells) == 4, line


def test_module_runs_as_a_script_and_imports_no_agent_code() -> None:
    out = subprocess.run([sys.executable, "-m", "market.config.docs"], cwd=ROOT, capture_output=True, text=True,
                         check=True, encoding="utf-8")
    assert out.stdout == render_markdown()
    tree = ast.parse((ROOT / "market" / "config" / "docs.py").read_text(encoding="utf-8"))
    imported = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert not [m for m in imported if m == "agents" or m.startswith(("agents.", "experiments", "analysis"))]


def test_odd_key_parameter_table_matches_the_schema() -> None:
    """Every key cited in docs/ODD.md's key-parameter table exists, with the schema's default."""
    odd = (ROOT / "docs" / "ODD.md").read_text(encoding="utf-8")
    assert "(parameters.md)" in odd, "docs/ODD.md should link to the generated parameter reference"
    table = odd.split("## 9. Key parameters", 1)[1].split("\n## ", 1)[0]
    rows = {row.key: row for section in collect_sections() for row in section.rows}
    cited = 0
    for line in table.splitlines():
        if not line.startswith("| `"):
            continue
        cells = [c.strip() for c in line.strip("|").split(" | ")]
        key, default = cells[0].strip("`"), cells[3]
        assert key in rows, f"docs/ODD.md cites unknown parameter {key}"
        assert default == rows[key].default, f"docs/ODD.md: default of {key} is {rows[key].default}, not {default}"
        cited += 1
    assert cited >= 20


def _values_at(node: object, parts: list[str]) -> list[object]:
    """Values at a key path like ``providers[].pricing.markup`` in a validated config (absent keys skipped)."""
    if not parts:
        return [node]
    name = parts[0].removesuffix("[]")
    if not hasattr(node, name):
        return []
    value = getattr(node, name)
    items = value if parts[0].endswith("[]") else [value]
    return [v for item in items for v in _values_at(item, parts[1:])]


def test_odd_baseline_column_matches_the_baseline_scenario() -> None:
    """The baseline column of the ODD's key-parameter table gives the baseline's value, or its range."""
    from market.config.files import load_scenario

    baseline = load_scenario(ROOT / "experiments" / "configs" / "baseline.toml")
    odd = (ROOT / "docs" / "ODD.md").read_text(encoding="utf-8")
    table = odd.split("## 9. Key parameters", 1)[1].split("\n## ", 1)[0]
    for line in table.splitlines():
        if not line.startswith("| `"):
            continue
        cells = [c.strip() for c in line.strip("|").split(" | ")]
        key, cell = cells[0].strip("`"), cells[4]
        values = _values_at(baseline, key.split("."))
        assert values, f"{key}: no value in the baseline scenario"
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            numbers = [float(x.replace(",", "")) for x in cell.split(" to ")]
            expected = sorted({min(values), max(values)})
            assert len(numbers) == len(expected), f"{key}: baseline {expected}, ODD says {cell}"
            assert all(abs(a - b) <= 1e-9 * max(abs(b), 1.0) for a, b in zip(numbers, expected, strict=True)), (
                f"{key}: baseline {expected}, ODD says {cell}"
            )
        else:
            texts = sorted({str(v).lower() if isinstance(v, bool) else str(v) for v in values})
            assert cell == " to ".join(texts), f"{key}: baseline {texts}, ODD says {cell}"
