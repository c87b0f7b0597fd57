"""One self-contained HTML report of a run, a sweep or a thesis directory (``ieco report DIR``).

The kind is recognised from the files (:func:`report_kind`): a run directory (``ieco run``) has
``manifest.json`` and ``model.parquet``; a sweep directory (``ieco sweep``) has ``sweep.json``; a thesis
directory (``ieco theses``) has ``verdicts.parquet`` and one sweep directory per thesis. The report holds the
figures (embedded PNGs), tables, the config and manifest, and for theses the verdicts with their assumptions.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from analysis.files import write_atomic
from analysis.network_plots import network_figures
from analysis.outcomes import Outcome, run_outcomes, sweep_parameters, sweep_plan
from analysis.plots import read_run_tables, run_figures, scenario_name
from analysis.report_html import Page
from analysis.results import load_sweep, sweep_manifest, sweep_runs
from analysis.statistics import StatisticError
from analysis.sweep_plots import forest_figure, outcome_vs_parameters_figure

ReportKind = Literal["run", "sweep", "theses"]
REPORT_FILE = "report.html"
SWEEP_OUTCOMES: tuple[Outcome, ...] = (
    Outcome("final", "hhi"),
    Outcome("final", "quality_adjusted_price_index"),
    Outcome("final", "share_hyperscaler"),
)
"""Outcomes a sweep report plots against every parameter (last month's value)."""
SUMMARY_COLUMNS: tuple[str, ...] = (
    "price_index", "quality_adjusted_price_index", "hhi", "share_hyperscaler", "share_specialized",
    "share_decentralized", "n_active_providers", "tokens_served", "total_spend", "unmet_demand",
)


class ReportError(ValueError):
    """The directory holds nothing a report can be made of."""


def report_kind(directory: str | Path) -> ReportKind:
    """Which kind of results ``directory`` holds.

    Raises:
        ReportError: It is not a directory, or holds none of the three kinds.
    """
    root = Path(directory)
    if not root.is_dir():
        raise ReportError(f"'{root}' is not a directory")
    if (root / "verdicts.parquet").is_file():
        return "theses"
    if (root / "sweep.json").is_file():
        return "sweep"
    if (root / "manifest.json").is_file() and (root / "model.parquet").is_file():
        return "run"
    raise ReportError(f"'{root}' holds no run (manifest.json + model.parquet), sweep (sweep.json) or theses "
                      "(verdicts.parquet)")


def build_report(directory: str | Path) -> str:
    """The HTML report of a run, sweep or thesis directory."""
    kind = report_kind(directory)
    builder = {"run": run_report, "sweep": sweep_report, "theses": theses_report}[kind]
    return builder(Path(directory))


def write_report(directory: str | Path, out: str | Path | None = None) -> Path:
    """Build the report and write it atomically to ``out`` (default: ``DIR/report.html``)."""
    html = build_report(directory)
    return write_atomic(Path(out) if out is not None else Path(directory) / REPORT_FILE, html.encode("utf-8"))


def _provenance(manifest: dict[str, Any], keys: tuple[str, ...]) -> pd.DataFrame:
    rows = [(k, manifest.get(k)) for k in keys if k in manifest]
    versions = manifest.get("versions", {})
    rows += [(f"version {k}", v) for k, v in versions.items()]
    return pd.DataFrame([(k, "-" if v is None else str(v)) for k, v in rows], columns=["field", "value"])


def run_report(root: Path) -> str:
    """Report of one run: summary, every figure, events, networks, config and manifest."""
    manifest = json.loads((root / "manifest.json").read_text())
    tables = read_run_tables(root)
    scenario = scenario_name(root)
    page = Page(f"Run report: {scenario}, seed {manifest.get('seed', '?')}")
    page.paragraph(f"{manifest.get('steps', '?')} monthly steps; results in {root.resolve()}.", "meta")
    page.heading("Summary")
    model = tables["model"]
    first, last = model.iloc[0], model.iloc[-1]
    present = [c for c in SUMMARY_COLUMNS if c in model.columns]
    page.table(pd.DataFrame({"metric": present, f"step {int(first['step'])}": [first[c] for c in present],
                             f"step {int(last['step'])}": [last[c] for c in present]}))
    page.heading("Figures")
    for stem, fig in {**run_figures(tables, scenario), **network_figures(root, scenario)}.items():
        page.figure(fig, f"{stem.replace('_', ' ')} ({scenario}, seed {manifest.get('seed', '?')})")
    events = tables["events"]
    page.heading("Corporate events")
    corporate = events[events["event"].isin(["entry", "exit", "acquisition", "merger_blocked"])]
    if corporate.empty:
        page.paragraph("No entries, exits, acquisitions or blocked mergers.")
    else:
        page.table(corporate[["step", "event", "party", "counterparty", "amount_usd"]].reset_index(drop=True))
    page.heading("Provenance")
    page.table(_provenance(manifest, ("run_id", "scenario", "seed", "steps", "git_commit", "python", "wall_time_s")))
    page.code(manifest.get("config", {}), "Scenario config (JSON)")
    page.code({k: v for k, v in manifest.items() if k != "config"}, "Manifest")
    return page.render()


def sweep_report(root: Path) -> str:
    """Report of a sweep: design, run status, replication bands, outcomes against parameters, sensitivity."""
    manifest = sweep_manifest(root)
    spec = manifest.get("sweep", {})
    runs = sweep_runs(root)
    name = str(manifest.get("name", root.name))
    finished = int((runs["status"] == "finished").sum())
    page = Page(f"Sweep report: {name}")
    page.paragraph(spec.get("description", ""), "meta")
    page.heading("Design")
    design = spec.get("design", {})
    page.items([
        f"design: {design.get('method')} (samples {design.get('samples')}), {len(runs['point'].unique())} points x "
        f"{spec.get('replications')} replications = {len(runs)} runs; root seed {spec.get('root_seed')}",
        f"common random numbers: {manifest.get('common_random_numbers', 'not recorded')}",
        f"status: {manifest.get('status')}; {finished} finished, {(runs['status'] == 'failed').sum()} failed, "
        f"{(runs['status'] == 'pending').sum()} pending",
    ])
    params = spec.get("parameters", [])
    if params:
        page.table(pd.DataFrame([_parameter_row(p) for p in params]))
    if finished:
        _sweep_figures(page, root, name)
    failed = runs[runs["status"] == "failed"]
    if len(failed):
        page.heading("Failed runs")
        page.table(failed[["run_id", "seed", "error"]].head(20).reset_index(drop=True))
    page.heading("Provenance")
    page.table(_provenance(manifest, ("name", "kind", "source", "git_commit", "python", "created", "updated")))
    page.code(manifest.get("base_scenario", {}), "Base scenario (JSON)")
    page.code({k: v for k, v in manifest.items() if k != "base_scenario"}, "Manifest")
    return page.render()


def _parameter_row(spec: dict[str, Any]) -> dict[str, str]:
    keys = [spec["path"]] if spec.get("path") else list(spec.get("paths") or [])
    values = spec.get("values")
    span = ", ".join(map(str, values)) if values is not None else f"{spec.get('low')} to {spec.get('high')}"
    return {"parameter": spec.get("name", ""), "settings": ", ".join(keys), "values": span,
            "scale": str(spec.get("scale", "linear"))}


def _sweep_figures(page: Page, root: Path, name: str) -> None:
    from analysis.plots import concentration_figure, price_index_figure

    model = load_sweep(root, "model")
    page.heading("All runs")
    page.figure(price_index_figure(model, name), "price indices, mean and range over runs")
    page.figure(concentration_figure(model, name), "HHI, mean and range over runs, with the guideline bands")
    parameters = sweep_parameters(root)
    if not parameters:
        return
    plan = sweep_plan(root)
    page.heading("Outcomes against each parameter")
    for outcome in SWEEP_OUTCOMES:
        try:
            values = run_outcomes(root, outcome)
        except StatisticError as exc:
            page.paragraph(f"{outcome.label}: {exc}", "warning")
            continue
        runs = values.merge(plan[["run_id", *parameters]], on="run_id")
        page.figure(outcome_vs_parameters_figure(runs, parameters, outcome.label, name),
                    f"{outcome.label}: point means with 95% t-intervals over replications")
    method = sweep_manifest(root).get("sweep", {}).get("design", {}).get("method")
    if method in ("sobol", "morris"):
        for outcome in SWEEP_OUTCOMES:
            _sensitivity_section(page, root, method, outcome)


def _sensitivity_section(page: Page, root: Path, method: str, outcome: Outcome) -> None:
    from analysis.sensitivity import analyze_sweep
    from analysis.sweep_plots import sensitivity_figure

    page.heading(f"{method.capitalize()} sensitivity of {outcome.label}")
    try:
        result = analyze_sweep(root, method, outcome)  # type: ignore[arg-type]
    except (ValueError, StatisticError) as exc:
        page.paragraph(f"not computed: {exc}", "warning")
        return
    page.figure(sensitivity_figure(result), f"{method} indices with bootstrap 95% intervals")
    page.table(result.table)
    page.items(result.summary())


def theses_report(root: Path) -> str:
    """Report of the theses: forest plot, verdict table with assumptions, each thesis's experiment."""
    verdicts = pd.read_parquet(root / "verdicts.parquet")
    n_runs = int(verdicts["n"].sum()) if "n" in verdicts else 0
    page = Page(f"Thesis report: {len(verdicts)} theses, {n_runs} replications judged")
    page.paragraph("Estimate: mean over replications of the statistic (of paired differences where two scenarios "
                   "are compared; both use the same seeds). Interval: bootstrap 95% confidence interval. "
                   "Supported: the whole interval lies on the claimed side of the threshold; refuted: wholly on "
                   "the other side; inconclusive otherwise.", "meta")
    page.figure(forest_figure(verdicts, f"Thesis verdicts, up to {int(verdicts['n'].max())} replications each"),
                "every estimate with its 95% interval; dashed line: the claim's threshold")
    page.heading("Verdicts")
    columns = ["number", "title", "statistic", "estimate", "ci_low", "ci_high", "claim", "verdict", "n"]
    page.table(verdicts[[c for c in columns if c in verdicts.columns]], classes={"verdict": "verdict"})
    for row in verdicts.sort_values("number").itertuples(index=False):
        page.heading(f"{row.number}. {row.title}: {row.verdict}", level=3)
        thesis = _thesis_document(root / str(row.thesis))
        if thesis:
            page.paragraph(f"Source claim: {' '.join(str(thesis.get('source_claim', '')).split())}")
            page.paragraph(f"Test: {' '.join(str(thesis.get('test', '')).split())}")
        page.paragraph(f"Statistic: {row.statistic}; estimate {row.estimate:.4g}, 95% CI [{row.ci_low:.4g}, "
                       f"{row.ci_high:.4g}], claim {row.claim}, {row.n} of {row.replications} replications.")
        if row.error:
            page.paragraph(f"error: {row.error}", "warning")
        page.paragraph("Assumptions:")
        page.items([a for a in str(row.assumptions).split("; ") if a])
        if thesis:
            page.code(thesis, "Thesis file (JSON)")
    return page.render()


def _thesis_document(directory: Path) -> dict[str, Any]:
    path = directory / "sweep.json"
    if not path.is_file():
        return {}
    return dict(json.loads(path.read_text()).get("thesis", {}))

