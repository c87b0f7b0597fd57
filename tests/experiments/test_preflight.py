"""Checks before anything runs (experiments/preflight.py) and the CLI's shared parts (experiments/cli_common.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from experiments.cli import app
from experiments.cli_common import parse_address, parse_seed, whole_number
from experiments.preflight import file_kind, output_columns
from experiments.sweep import run_sweep
from market.config.files import ConfigError, read_toml

REPO = Path(__file__).resolve().parents[2]
TINY_SWEEP = """
name = "tiny"
base = "baseline"
[settings]
"simulation.steps" = 2
"segments.0.n_agents" = 10
"segments.1.n_agents" = 10
"segments.2.n_agents" = 10
[[parameters]]
name = "mu"
path = "logit.mu"
values = [0.3]
"""


@pytest.mark.parametrize(
    ("target", "kind", "summary"),
    [
        ("baseline", "scenario", "scenario 'baseline', 60 steps, 10 providers"),
        ("experiments/configs/validation/logit_duopoly.toml", "scenario", "scenario 'logit_duopoly'"),
        ("experiments/configs/sweeps/switching_mu_grid.toml", "sweep", "6 design points x 5 replications = 30 runs"),
        ("sweeps/parity_lockin_sobol", "sweep", "320 design points x 3 replications = 960 runs, sobol design"),
        ("experiments/theses/lock_in.toml", "thesis", "thesis 'lock_in' (#9), scenarios high_switching, no_switching"),
    ],
)
def test_validate_recognises_scenario_sweep_and_thesis_files(target: str, kind: str, summary: str,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    if target.endswith(".toml"):
        assert file_kind(read_toml(target)) == kind
    result = CliRunner().invoke(app, ["validate", target])
    assert result.exit_code == 0, result.output
    assert summary in " ".join(result.output.split())


def test_output_columns_are_those_a_run_writes() -> None:
    columns = output_columns(read_toml(REPO / "experiments" / "configs" / "baseline.toml"))
    assert columns is not None
    assert {"hhi", "hhi_na", "price_index", "share_specialized"} <= set(columns["model"])
    assert {"provider", "kind", "price", "revenue"} <= set(columns["providers"])
    assert set(columns) == {"model", "providers", "enterprises", "gpu_market", "events", "offers"}
    assert {"tier", "latency_ms", "served", "capacity_weight"} <= set(columns["offers"])


def test_python_api_errors_speak_python(tmp_path: Path) -> None:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY_SWEEP)
    run_sweep(path, tmp_path / "out", workers=1)
    with pytest.raises(ConfigError, match=r"pass resume=True \(--resume\) to continue it"):
        run_sweep(path, tmp_path / "out", workers=1)


def test_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("ieco 0.")


def test_sweep_help_documents_the_exit_codes() -> None:
    text = " ".join(CliRunner().invoke(app, ["sweep", "--help"]).output.split())
    assert "2 bad input (nothing written); 3 some runs failed" in text.replace("│", "").replace("  ", " ")


@pytest.mark.parametrize("address", ["auto", "127.0.0.1:6379", "head-node.example.org:10001", "[::1]:6379"])
def test_addresses_accepted(address: str) -> None:
    assert parse_address(address) == address


def test_whole_numbers() -> None:
    assert whole_number(1, 10)("7") == 7 and whole_number(1, 10)("1_0") == 10
    assert parse_seed(str(2**63 - 1)) == 2**63 - 1
    for bad in ("abc", "1.5", "1e3", "", "0x10", "11"):
        with pytest.raises(typer.BadParameter):
            whole_number(1, 10)(bad)
