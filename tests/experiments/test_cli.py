"""The ``ieco`` command line (experiments/cli.py): run and validate, outputs, and readable failures."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from click.testing import Result
from typer.testing import CliRunner

from experiments.cli import app

REPO_ROOT = Path(__file__).resolve().parents[2]
DUOPOLY = REPO_ROOT / "experiments" / "configs" / "validation" / "logit_duopoly.toml"
VALIDATION_CONFIGS = sorted((REPO_ROOT / "experiments" / "configs" / "validation").glob("*.toml"))

MODEL_COLUMNS = [
    "step", "price_index", "quality_adjusted_price_index", "hhi", "share_hyperscaler", "share_specialized",
    "share_decentralized", "n_active_providers", "tokens_served", "total_spend", "unmet_demand", "utilization",
    "secondary_gpu_price", "consumer_surplus",
]
PROVIDER_COLUMNS = [
    "kind", "owner", "price", "unit_cost", "capacity", "tokens_served", "revenue", "profit", "cash", "fleet_gpus",
]
MANIFEST_KEYS = ["config", "seed", "versions", "git_commit", "wall_time_s"]

runner = CliRunner()


def invoke(*args: str) -> Result:
    return runner.invoke(app, [str(a) for a in args])


# ---------------------------------------------------------------------------------------------------------
# successful runs
# ---------------------------------------------------------------------------------------------------------


def test_run_writes_tables_and_manifest(tmp_path: Path) -> None:
    out = tmp_path / "duopoly"
    result = invoke("run", DUOPOLY, "--out", out)
    assert result.exit_code == 0, result.output
    for table in ("model", "providers", "enterprises", "events"):
        assert (out / f"{table}.parquet").is_file(), table
    model = pd.read_parquet(out / "model.parquet")
    providers = pd.read_parquet(out / "providers.parquet")
    assert set(MODEL_COLUMNS) <= set(model.columns), set(MODEL_COLUMNS) - set(model.columns)
    assert set(PROVIDER_COLUMNS) <= set(providers.columns), set(PROVIDER_COLUMNS) - set(providers.columns)
    assert len(model) == 60
    final = providers[providers["step"] == 59]
    assert final["price"].to_numpy() == pytest.approx([1.4729, 1.4729], abs=1e-3)  # Calvano et al. (2020)
    manifest = json.loads((out / "manifest.json").read_text())
    for key in MANIFEST_KEYS:
        assert key in manifest, key
    assert manifest["seed"] == 0
    assert manifest["config"]["name"] == "logit_duopoly"
    assert str(out.resolve()) in result.output.replace("\n", "")


def test_run_options_and_overrides(tmp_path: Path) -> None:
    """--steps, --seed and --set reach the run: 40 steps of the joint-profit game end at 1.9250."""
    out = tmp_path / "joint"
    result = invoke("run", DUOPOLY, "--out", out, "--steps", "40", "--seed", "9",
                    "--set", "providers.firm.pricing.objective=industry")
    assert result.exit_code == 0, result.output
    model = pd.read_parquet(out / "model.parquet")
    providers = pd.read_parquet(out / "providers.parquet")
    assert len(model) == 40
    assert (model["seed"] == 9).all()
    assert providers[providers["step"] == 39]["price"].to_numpy() == pytest.approx([1.9250, 1.9250], abs=1e-3)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 9
    assert manifest["config"]["providers"][0]["pricing"]["objective"] == "industry"


@pytest.mark.parametrize("path", VALIDATION_CONFIGS, ids=lambda p: p.stem)
def test_validate_accepts_shipped_validation_configs(path: Path) -> None:
    result = invoke("validate", path)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ok ")


def test_validate_applies_overrides() -> None:
    assert invoke("validate", DUOPOLY, "--set", "logit.mu=0.5").exit_code == 0
    result = invoke("validate", DUOPOLY, "--set", "logit.mu=-0.5")
    assert result.exit_code == 2
    assert "logit.mu = -0.5" in result.output


# ---------------------------------------------------------------------------------------------------------
# bad input: exit code 2, one readable message naming the key, no traceback, nothing written
# ---------------------------------------------------------------------------------------------------------


def edited(old: str, new: str) -> Callable[[Path], Path]:
    """A scenario file: the duopoly with ``old`` replaced by ``new`` (``old`` must occur in it)."""

    def make(tmp_path: Path) -> Path:
        text = DUOPOLY.read_text()
        assert old in text
        path = tmp_path / "scenario.toml"
        path.write_text(text.replace(old, new, 1))
        return path

    return make


def missing_file(tmp_path: Path) -> Path:
    return tmp_path / "no_such_scenario.toml"


BAD_CONFIGS: dict[str, tuple[Callable[[Path], Path], list[str]]] = {
    "wrong type": (edited("steps = 60", 'steps = "sixty"'), ["simulation.steps", "'sixty'"]),
    "unknown key": (edited("\nmu = 0.25", "\nmuu = 0.25"), ["logit.muu", "did you mean 'mu'"]),
    "negative price": (edited("unit_cost_usd_per_mtok = 1.0", "unit_cost_usd_per_mtok = -1.0"),
                       ["providers[0].unit_cost_usd_per_mtok", "-1.0"]),
    "negative initial price": (edited("initial_price_usd_per_mtok = 1.0", "initial_price_usd_per_mtok = -3.0"),
                               ["providers[0].initial_price_usd_per_mtok", "-3.0"]),
    "unknown strategy": (edited('strategy = "best_response"', 'strategy = "best_responder"'),
                         ["providers[0].pricing.strategy", "best_responder", "did you mean 'best_response'"]),
    "unknown region": (edited('regions = ["global"]', 'regions = ["mars"]'),
                       ["providers[0].regions", "unknown region 'mars'"]),
    "invalid TOML": (edited("[logit]", "[logit"), ["not valid TOML"]),
    "missing file": (missing_file, ["no_such_scenario.toml", "no such file"]),
}


@pytest.mark.parametrize("case", BAD_CONFIGS)
@pytest.mark.parametrize("command", ["run", "validate"])
def test_bad_config_exits_2_with_a_readable_message(case: str, command: str, tmp_path: Path) -> None:
    make, expected = BAD_CONFIGS[case]
    path = make(tmp_path)
    out = tmp_path / "out"
    args = ["run", path, "--out", out] if command == "run" else ["validate", path]
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    text = result.output.replace("\n", "")
    for fragment in expected:
        assert fragment in text, (fragment, result.output)
    assert "Traceback" not in result.output
    assert not out.exists()


@pytest.mark.parametrize("case", ["wrong type", "unknown strategy", "invalid TOML"])
def test_bad_config_leaves_an_existing_output_directory_untouched(case: str, tmp_path: Path) -> None:
    make, _ = BAD_CONFIGS[case]
    out = tmp_path / "previous"
    out.mkdir()
    (out / "model.parquet").write_bytes(b"previous results")
    result = invoke("run", make(tmp_path), "--out", out)
    assert result.exit_code == 2
    assert sorted(p.name for p in out.iterdir()) == ["model.parquet"]
    assert (out / "model.parquet").read_bytes() == b"previous results"


def test_bad_override_exits_2(tmp_path: Path) -> None:
    out = tmp_path / "out"
    for override, fragment in [("providers.9.quality=1", "index 9 out of range"),
                               ("logit.mu=abc", "logit.mu = 'abc'"),
                               ("providers.0.pricing.strategy=tit_for_tat", "unknown strategy")]:
        result = invoke("run", DUOPOLY, "--out", out, "--set", override)
        assert result.exit_code == 2, override
        assert fragment in result.output.replace("\n", ""), (override, result.output)
        assert "Traceback" not in result.output
        assert not out.exists()


def test_out_path_that_is_a_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "a_file"
    target.write_text("keep me")
    result = invoke("run", DUOPOLY, "--out", target)
    assert result.exit_code == 2
    assert "not a directory" in result.output
    assert target.read_text() == "keep me"


def test_real_process_reports_bad_config_without_traceback(tmp_path: Path) -> None:
    """The installed entry point, run as a process: exit status 2, the key on stderr, no traceback."""
    path = edited("steps = 60", "steps = -4")(tmp_path)
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "experiments.cli", "run", str(path), "--out", str(out)],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "simulation.steps = -4" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert not out.exists()
