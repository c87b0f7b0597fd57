"""Invariants at every step over random valid scenarios built from the shipped baseline.

Each hypothesis example is ``experiments/configs/baseline.toml`` reduced to a few enterprise agents per segment
(same total demand, :func:`tests.test_conservation.reduced_baseline`) with drawn values of the parameters that
move the market most (logit scale, switching cost, elasticity, distillation, self-hosting, antitrust, cash,
power caps, rationing). The model is stepped by hand with the step-by-step conservation checks of
``tests/test_conservation.py`` (money and GPUs: reused, not repeated here), then every step of its output
tables is checked against the identities that hold by definition (DESIGN.md 3.4, 4; ODD 7.13):

* tokens served by a provider never exceed its capacity, and nothing served is negative;
* shares by provider kind lie in [0, 1] and sum to 1 whenever anything is served;
* HHI, market-wide and per region, lies in [0, 10,000] (0 for an empty market, 10,000 for a monopoly);
* utilization and the outside option's share lie in [0, 1];
* no NaN or infinity in any output column, except the columns listed in :data:`POSSIBLY_MISSING`, which are
  documented in docs/reliability.md with the condition under which they are missing.

The 600-step runs at extreme parameters live in ``tests/faults/test_long_invariants.py`` (``make test-faults``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from market.config.files import apply_settings
from tests.test_conservation import reduced_baseline, run_and_check

pytestmark = pytest.mark.invariant

DOCS = Path(__file__).resolve().parents[1] / "docs" / "reliability.md"

POSSIBLY_MISSING: dict[str, frozenset[str]] = {
    "model": frozenset({"price_index", "quality_adjusted_price_index", "outside_share", "utilization",
                        "secondary_gpu_price", "self_host_cost", "margin_hyperscaler", "margin_specialized",
                        "margin_decentralized", "log_change_spend_per_token", "log_change_price",
                        "log_change_composition", "log_change_quality", "utilization_hyperscaler",
                        "utilization_specialized", "utilization_decentralized", "hhi_markets_mean",
                        "hhi_markets_max", "router_margin", "latency_premium", "multihoming_5plus_models",
                        "multihoming_3plus_families"}),
    "gpu_market": frozenset({"secondary_price"}),
    "providers": frozenset({"price"}),
    "enterprises": frozenset({"effective_price"}),
    "events": frozenset({"amount_usd", "units"}),
}
"""Columns that may be NaN (never infinite), by table; docs/reliability.md says when."""

REL = 1e-9

baseline_draws = st.fixed_dictionaries({
    "logit.mu": st.sampled_from([0.05, 0.1, 0.35, 1.0, 10.0]),  # the accepted range is [0.05, 10]
    "segments.0.switching_cost": st.sampled_from([0.0, 0.3, 3.0]),
    "segments.2.switching_cost": st.sampled_from([0.0, 0.1, 3.0]),
    "segments.2.price_elasticity": st.sampled_from([0.0, 1.1, 3.0]),
    "technology.distillation_speed": st.sampled_from([0.0, 1.0, 5.0]),
    "outside_option.self_hosting": st.booleans(),
    "corporate.antitrust.policy": st.sampled_from(["none", "hhi_2023", "hhi_2010"]),
    "providers.specialist.cash_usd": st.sampled_from([0.0, 1e6, 1e9]),
    "regions.1.power_capacity_mw": st.sampled_from([1.0, 500.0, math.inf]),
    "simulation.rationing_rounds": st.integers(0, 3),
    "routers_enabled": st.booleans(),
    "routers": st.sampled_from([[], [{"name": "router", "count": 2, "fee": {"strategy": "adaptive_fee"}}],
                                [{"name": "router", "min_quality": 0.99, "provider_kinds": ["decentralized"]}]]),
})


def check_outputs(frames: Mapping[str, pd.DataFrame]) -> int:
    """Assert the output identities of the module docstring on every row; return the checks made."""
    m, p, g = frames["model"], frames["providers"], frames["gpu_market"]
    checks = 0
    assert (p["tokens_served"] >= -REL).all()
    fleets = p[p["kind"] != "router"].set_index(["step", "provider"])  # routers hold no capacity
    o = frames["offers"]  # capacity is in capacity units: a tier's token uses capacity_weight of one
    used = (o["served"] * o["capacity_weight"]).groupby([o["step"], o["provider"]]).sum()
    used = used.reindex(fleets.index, fill_value=0.0)
    assert (used <= fleets["capacity"] * (1 + REL) + 1e-6).all(), "served beyond capacity"
    checks += 2 * len(p)
    shares = m[[c for c in m.columns if c.startswith("share_")]]
    assert ((shares >= 0) & (shares <= 1 + REL)).all().all()
    served = m["tokens_served"] > 0
    np.testing.assert_allclose(shares.sum(axis=1)[served], 1.0, rtol=1e-12)
    hhi = m[[c for c in m.columns if c == "hhi" or c.startswith("hhi_")]]
    assert ((hhi >= 0) & (hhi <= 10_000 * (1 + REL))).all().all()
    for column in ("utilization", "outside_share"):
        values = m[column].dropna()
        assert ((values >= -REL) & (values <= 1 + REL)).all(), column
    checks += 5 * len(m)
    assert ((g["in_fleets"] + g["in_inventory"] + g["scrapped"]) == g["produced"]).all()
    checks += len(g)
    for table, frame in frames.items():
        for column in frame.columns:
            if frame[column].dtype.kind not in "fc":
                continue
            values = frame[column].to_numpy()
            assert not np.isinf(values).any(), f"{table}.{column} is infinite"
            if column not in POSSIBLY_MISSING.get(table, frozenset()):
                assert not np.isnan(values).any(), f"{table}.{column} is NaN (not documented as possibly missing)"
            checks += len(values)
    return checks


@settings(max_examples=20, deadline=None)
@given(draws=baseline_draws, seed=st.integers(0, 2**16))
def test_invariants_hold_every_step_of_random_baselines(
    draws: dict[str, Any], seed: int, reliability_counts: dict[str, int],
) -> None:
    scenario = apply_settings(reduced_baseline(steps=8, agents_per_segment=12), draws)
    model = run_and_check(scenario, seed, gpus=True, money=True)
    steps = scenario["simulation"]["steps"]
    reliability_counts["invariant_checks"] += 2 * steps + check_outputs(model.recorder.frames())


def test_possibly_missing_columns_are_documented() -> None:
    text = DOCS.read_text()
    for table, columns in POSSIBLY_MISSING.items():
        for column in columns:
            assert f"`{table}.{column}`" in text, f"{table}.{column} missing from {DOCS.name}"
