"""HTML reports of a run, a sweep and theses: self-contained, with the figures and tables they promise;
the same reports open in headless Chromium without console errors and with every image decoded."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pandas as pd
import pytest

from analysis.report import ReportError, build_report, report_kind, write_report
from tests.browser import broken_images, image_count, open_page, require_chromium
from tests.result_dirs import make_run_dir, make_theses_dir


@pytest.fixture(scope="module")
def dirs(tmp_path_factory: pytest.TempPathFactory, tiny_sobol_sweep: Path) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("reports")
    return {"run": make_run_dir(root), "sweep": tiny_sobol_sweep, "theses": make_theses_dir(root)}


@pytest.fixture(scope="module")
def reports(dirs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("html")
    return {kind: write_report(directory, out / f"{kind}.html") for kind, directory in dirs.items()}


def _images(html: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)]


def test_kind_is_recognised(dirs: dict[str, Path], tmp_path: Path) -> None:
    assert {kind: report_kind(d) for kind, d in dirs.items()} == {"run": "run", "sweep": "sweep", "theses": "theses"}
    with pytest.raises(ReportError, match="holds no run"):
        report_kind(tmp_path)
    with pytest.raises(ReportError, match="is not a directory"):
        report_kind(tmp_path / "missing")


@pytest.mark.parametrize("kind", ["run", "sweep", "theses"])
def test_reports_are_self_contained(reports: dict[str, Path], kind: str) -> None:
    html = reports[kind].read_text()
    assert html.startswith("<!DOCTYPE html>")
    assert not re.search(r'(src|href)="(?!data:)', html), "every resource is inlined as a data URI"
    images = _images(html)
    assert images and all(i[:8] == b"\x89PNG\r\n\x1a\n" for i in images)


def test_run_report_has_figures_summary_config_and_manifest(reports: dict[str, Path], dirs: dict[str, Path]) -> None:
    html = reports["run"].read_text()
    assert "Run report: baseline, seed 5" in html
    assert len(_images(html)) == 11  # nine run figures, contract and ownership networks
    model = pd.read_parquet(dirs["run"] / "model.parquet")
    assert f"{model['hhi'].iloc[-1]:.4g}" in html
    assert "Scenario config (JSON)" in html and "&quot;git_commit&quot;" in html


def test_sweep_report_has_outcomes_and_sensitivity(reports: dict[str, Path]) -> None:
    html = reports["sweep"].read_text()
    assert "Sweep report: tiny_sobol" in html
    assert "common random numbers: True" in html
    for column in ("hhi", "quality_adjusted_price_index", "share_hyperscaler"):
        assert f"Sobol sensitivity of final of {column}" in html
    assert "replication noise" in html
    assert len(_images(html)) == 2 + 3 + 3  # bands (prices, HHI), 3 outcomes vs parameters, 3 sensitivity charts


def test_theses_report_has_forest_plot_verdicts_and_assumptions(reports: dict[str, Path],
                                                               dirs: dict[str, Path]) -> None:
    html = reports["theses"].read_text()
    verdicts = pd.read_parquet(dirs["theses"] / "verdicts.parquet")
    for row in verdicts.itertuples():
        assert f"{row.number}. {row.title}: {row.verdict}" in html
        assert f"{row.estimate:.4g}" in html
    assert "Tiny scenario: 4 months, 120 enterprise agents." in html and "Second assumption." in html
    assert len(_images(html)) == 1


def test_default_output_is_inside_the_directory(dirs: dict[str, Path]) -> None:
    path = write_report(dirs["theses"])
    assert path == dirs["theses"] / "report.html"
    assert path.read_text() == build_report(dirs["theses"])


def test_reports_open_in_headless_chromium(reports: dict[str, Path], tmp_path: Path) -> None:
    """Each report loads without console errors, every image decodes, and a screenshot is saved."""
    require_chromium()
    with open_page() as (page, errors):
        for kind, path in reports.items():
            page.goto(path.resolve().as_uri(), wait_until="load")
            assert page.title().split(":")[0] == {"run": "Run report", "sweep": "Sweep report",
                                                   "theses": "Thesis report"}[kind]
            assert image_count(page) == len(_images(path.read_text()))
            assert broken_images(page) == [], kind
            page.screenshot(path=str(tmp_path / f"{kind}.png"), full_page=True)
            assert errors == [], kind
            assert (tmp_path / f"{kind}.png").stat().st_size > 10_000
