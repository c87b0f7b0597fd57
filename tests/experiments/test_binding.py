"""Which mechanisms bind (experiments/binding.py): the measures on hand-made frames, and a tiny run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from experiments import binding
from market.config import ScenarioConfig


def events(rows: list[tuple[int, str, str, str, int, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["step", "event", "party", "generation", "units", "detail"])


def test_vendor_rationing_counts_months_sold_up_to_supply_within_rounding() -> None:
    """Supply 100 a month. Step 1: 60 + 39 GPUs in 2 orders: 99 + 2 >= 100, rationed. Step 2: 50 in one
    order: 51 < 100, not. Entry fleets and unlimited generations do not count."""
    frame = events([(1, "gpu_purchase", "", "B200", 60, "vendor"), (1, "gpu_purchase", "", "B200", 39, "vendor"),
                    (2, "gpu_purchase", "", "B200", 50, "vendor"), (2, "gpu_purchase", "", "B200", 500, "entry"),
                    (3, "gpu_purchase", "", "H100", 10**6, "vendor")])
    out = binding.vendor_rationing(frame, {"B200": 100.0, "H100": np.inf})
    assert out == {"rationed_months": 1, "peak_share_of_supply": pytest.approx(0.99)}


def test_grid_and_outside_option_measures() -> None:
    share = np.array([[0.5, 0.98], [0.7, 0.995], [1.0, 0.2]])
    assert binding.grid_binding(share) == {"full_region_months": 2, "peak_load_share": 1.0}
    model = pd.DataFrame({"outside_share": [0.01, 0.09, 0.02]})
    assert binding.outside_share(model) == {"mean": pytest.approx(0.04), "max": pytest.approx(0.09)}


def test_entries_against_their_cap() -> None:
    """new_spec enters at months 3, 9 and 15 with a cap of 2: cap reached at month 9; new_swarm never."""
    frame = events([(9, "entry", "new_spec_2", "", 0, ""), (3, "entry", "new_spec_1", "", 0, ""),
                    (15, "entry", "new_spec_3", "", 0, ""), (4, "entry", "new_spectre_1", "", 0, "")])
    out = binding.entries_against_cap(frame, {"new_spec": 2, "new_swarm": 3})
    assert out["new_spec"] == {"entries": 3, "max_entries": 2, "cap_reached_step": 9}
    assert out["new_swarm"] == {"entries": 0, "max_entries": 3, "cap_reached_step": -1}


def test_table_on_a_tiny_run(tiny_fleet_config: ScenarioConfig) -> None:
    """The tiny scenario's B200 supply (500 a month) and the na grid (400 MW) are measured; the table has a row
    per mechanism."""
    facts = binding.binding_facts(tiny_fleet_config, 5)
    assert facts["steps"] == tiny_fleet_config.simulation.steps
    assert 0.0 < facts["grid"]["peak_load_share"] < 1.0
    assert 0.0 <= facts["outside"]["mean"] <= facts["outside"]["max"] <= 1.0
    table = binding.binding_table({5: facts})
    assert table.count("\n| ") == 4 and "| vendor supply |" in table and "| grid |" in table
