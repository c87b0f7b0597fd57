"""Golden result: the baseline at seeds 1 and 2 for 24 steps matches the stored tables (tests/golden/).

The stored tables were produced by the engine before the model-wing renovation; a refactor that changes any
number beyond 1e-9 relative, or any name, count or event, fails here. Regenerate them with ``make golden``
only when a change of results is intended, and say why in the commit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from experiments.run import run_scenario
from market.config.files import load_scenario

GOLDEN = Path(__file__).resolve().parent / "golden"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module", params=[1, 2])
def run(request: pytest.FixtureRequest) -> tuple[int, dict[str, pd.DataFrame]]:
    config = load_scenario(ROOT / "experiments" / "configs" / "baseline.toml", ["simulation.steps=24"])
    result = run_scenario(config, seed=request.param)
    return request.param, {t: getattr(result, t) for t in ("model", "providers", "events")}


@pytest.mark.parametrize("table", ["model", "providers", "events"])
def test_baseline_matches_the_golden_tables(run: tuple[int, dict[str, pd.DataFrame]], table: str) -> None:
    seed, frames = run
    got = frames[table]
    expected = pd.read_parquet(GOLDEN / f"baseline_seed{seed}_{table}.parquet")
    assert list(got.columns) == list(expected.columns)
    assert len(got) == len(expected)
    for column in expected.columns:
        a, b = got[column].to_numpy(), expected[column].to_numpy()
        if np.issubdtype(b.dtype, np.floating):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=0.0, equal_nan=True, err_msg=f"{table}.{column}")
        else:
            assert (a == b).all(), f"{table}.{column} differs"
