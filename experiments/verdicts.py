"""Running the theses and writing the verdict table (Markdown and Parquet).

``run_theses`` plans every scenario x replication of every selected thesis, executes them all through one
evaluator (one Ray session), stores each thesis's runs under ``OUT/<thesis>/`` (a sweep directory, readable
with :func:`analysis.results.load_sweep`), then judges each thesis and writes ``OUT/verdicts.md`` and
``OUT/verdicts.parquet``. Identical runs of different theses run once (:mod:`experiments.shared_runs`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from experiments.evaluators import Evaluator, RunOutcome, make_evaluator
from experiments.locks import LOCK_FILE, DirectoryLock, check_unlocked
from experiments.outputs import write_file_atomic, write_text_atomic
from experiments.shared_runs import SharedStore, share_tasks
from experiments.store import ResultStore
from experiments.sweep import ProgressCallback, check_store, execute_tasks, open_store
from experiments.sweep_config import RunTask, derive_seeds, plan_frame
from experiments.theses import Thesis, discover_theses, judge, load_thesis
from market.config.files import ConfigError

VERDICT_COLUMNS: tuple[str, ...] = (
    "number", "thesis", "title", "statistic", "claim", "operator", "threshold", "estimate", "ci_low", "ci_high",
    "n", "replications", "verdict", "error", "assumptions",
)


def thesis_tasks(thesis: Thesis, documents: dict[str, dict[str, Any]]) -> list[RunTask]:
    """Every scenario x replication of a thesis; replication r uses the same seed in every scenario."""
    seeds = derive_seeds(thesis.root_seed, thesis.replications)
    return [
        RunTask(f"{thesis.name}-{name}-r{rep:02d}", point, rep, seeds[rep], {"scenario": name}, documents[name])
        for point, name in enumerate(thesis.scenarios)
        for rep in range(thesis.replications)
    ]


class StoreGroup:
    """Several result stores behind the interface :func:`experiments.sweep.execute_tasks` writes to."""

    def __init__(self, stores: dict[str, ResultStore], tasks: dict[str, list[RunTask]]) -> None:
        self.stores = stores
        self.owner = {t.run_id: key for key, ts in tasks.items() for t in ts}
        self.totals = {key: len(ts) for key, ts in tasks.items()}
        self.finished = {key: len(store.finished_ids()) for key, store in stores.items()}
        self.failed = dict.fromkeys(stores, 0)

    def finished_ids(self) -> set[str]:
        """Finished run ids of every store."""
        return set().union(*(store.finished_ids() for store in self.stores.values()))

    def write_outcome(self, outcome: RunOutcome, task: RunTask) -> None:
        """Write to the store that owns the run."""
        key = self.owner[outcome.run_id]
        self.stores[key].write_outcome(outcome, task)
        if outcome.status == "finished":
            self.finished[key] += 1
        else:
            self.failed[key] += 1

    def update(self, *, force: bool = False, **fields: Any) -> None:
        """Update every store's manifest; ``progress`` is counted per store."""
        for key, store in self.stores.items():
            own = dict(fields)
            if "progress" in own:
                own["progress"] = {"total": self.totals[key], "finished": self.finished[key],
                                   "failed": self.failed[key]}
            if "status" in own and own["status"] == "complete" and self.failed[key]:
                own["status"] = "complete_with_failures"
            store.update(force=force, **own)


def run_theses(
    out: str | Path,
    *,
    replications: int | None = None,
    only: Sequence[str] | None = None,
    theses_dir: str | Path | None = None,
    workers: int | None = None,
    address: str | None = None,
    resume: bool = False,
    progress: ProgressCallback | None = None,
    evaluator: Evaluator | None = None,
) -> pd.DataFrame:
    """Run the theses' experiments and return (and write) the verdict table.

    Args:
        out: Directory: one sweep directory per thesis plus ``verdicts.md`` and ``verdicts.parquet``.
        replications: Replications per scenario, overriding each file's.
        only: Names of the theses to run (default: all).
        theses_dir: Directory of thesis files (default: the shipped ones).
        workers: Parallel runs; 1 runs in-process, otherwise on Ray.
        address: Ray cluster to join.
        resume: Continue an interrupted run of the theses in ``out``.
        progress: Called after every run with the counts over all theses.
        evaluator: Use this evaluator instead of one made from ``workers`` and ``address``.

    Raises:
        ConfigError: A thesis file is invalid, or ``out`` holds other results.
    """
    root = Path(out)
    selected: list[tuple[Thesis, dict[str, dict[str, Any]]]] = []
    for path in discover_theses(theses_dir, list(only) if only else None):
        thesis, documents = load_thesis(path)
        if replications is not None:
            thesis = thesis.model_copy(update={"replications": replications})
        selected.append((thesis, documents))
    selected.sort(key=lambda item: (item[0].number, item[0].name))
    tasks = {thesis.name: thesis_tasks(thesis, documents) for thesis, documents in selected}
    documents_by_thesis = {thesis.name: {"thesis": thesis.model_dump(mode="json"), "scenarios": documents}
                           for thesis, documents in selected}
    check_theses_dir(root)
    for name, document in documents_by_thesis.items():
        check_store(root / name, document, resume=resume, kind="thesis")
    check_unlocked(root)
    evaluator = evaluator or make_evaluator(workers, address)
    with evaluator, DirectoryLock(root):  # start or join Ray before anything is written
        stores = {name: open_store(root / name, document, plan_frame(tasks[name]), resume=resume, kind="thesis",
                                   name=name)
                  for name, document in documents_by_thesis.items()}
        execute_shared(tasks, stores, evaluator, progress)
        table = pd.DataFrame([judge(thesis, root / thesis.name) for thesis, _ in selected],
                             columns=list(VERDICT_COLUMNS))
        write_verdicts(table, root, [thesis for thesis, _ in selected])
    return table


def execute_shared(tasks: dict[str, list[RunTask]], stores: dict[str, ResultStore], evaluator: Evaluator,
                   progress: ProgressCallback | None) -> int:
    """Execute each distinct run of all theses once and store it for every thesis that uses it
    (:mod:`experiments.shared_runs`); progress counts distinct runs. Returns the number of distinct runs."""
    shared = SharedStore(StoreGroup(stores, tasks), share_tasks([t for ts in tasks.values() for t in ts]))
    execute_tasks(shared.tasks(), shared, evaluator, progress)  # type: ignore[arg-type]
    return len(shared.runs)


def check_theses_dir(root: Path) -> None:
    """Refuse an output directory that holds anything but thesis results (nothing else is overwritten).

    Raises:
        ConfigError: ``root`` is a file, or a directory holding other files.
    """
    if root.exists() and not root.is_dir():
        raise ConfigError(f"--out {root}: exists and is not a directory")
    if not root.is_dir():
        return
    ours = {"verdicts.md", "verdicts.parquet", "verdicts_by_world.parquet", "boxes.parquet", "robustness.md",
            "robustness.parquet", "verdicts_final.md", "verdicts_final.parquet", LOCK_FILE}
    foreign = [p.name for p in root.iterdir()
               if p.name not in ours and not (p.is_dir() and ResultStore(p).exists()) and not p.name.startswith(".")]
    if foreign:
        raise ConfigError(f"--out {root}: holds files that are not thesis results ({', '.join(sorted(foreign)[:3])}); "
                          "choose another directory")


def write_verdicts(table: pd.DataFrame, out: Path, theses: list[Thesis]) -> None:
    """Write ``verdicts.parquet`` and ``verdicts.md`` atomically."""
    write_file_atomic(out / "verdicts.parquet", lambda p: table.to_parquet(p, index=False))
    write_text_atomic(out / "verdicts.md", verdicts_markdown(table, theses))


def format_number(value: float) -> str:
    """A number with four significant digits, or a dash when undefined."""
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.4g}"


def verdicts_markdown(table: pd.DataFrame, theses: list[Thesis]) -> str:
    """The verdict table, then each thesis's assumptions, as Markdown."""
    lines = [
        "# Thesis verdicts",
        "",
        "Estimate: mean over replications of the statistic (of paired differences where two scenarios are "
        "compared). Interval: bootstrap 95% confidence interval of that mean. Supported: the whole interval "
        "is on the claimed side of the threshold; refuted: the whole interval is on the other side; "
        "inconclusive otherwise.",
        "",
        "| # | thesis | statistic | estimate | 95% CI | claim | verdict | runs |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for _, row in table.iterrows():
        ci = f"[{format_number(row['ci_low'])}, {format_number(row['ci_high'])}]"
        verdict = row["verdict"] if not row["error"] else f"error: {row['error']}"
        lines.append(f"| {row['number']} | {row['title']} | {row['statistic']} | {format_number(row['estimate'])} "
                     f"| {ci} | {row['claim']} | **{verdict}** | {row['n']}/{row['replications']} |")
    lines += ["", "## Assumptions", ""]
    for thesis in theses:
        lines.append(f"**{thesis.number}. {thesis.title}** ({thesis.name})")
        lines += [f"- {a}" for a in thesis.assumptions]
        lines.append("")
    return "\n".join(lines)
