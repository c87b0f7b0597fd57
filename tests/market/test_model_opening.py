"""Opening prices (InferenceMarket.open_offers): step 0 starts from prices that clear the market, entrants
price from the market they enter, and the trial clearings draw no random number."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from market.config.files import scenario_from_dict
from market.model import InferenceMarket


def best_responders(d: dict[str, Any]) -> InferenceMarket:
    """The tiny fleet market with every provider best-responding (elasticity kept, log utility)."""
    for p in d["providers"]:
        p["pricing"] = {"strategy": "best_response"}
    return InferenceMarket(scenario_from_dict(d), seed=5)


def test_step_zero_prices_clear_the_market_without_touching_the_generators(tiny_fleet_dict: dict[str, Any]) -> None:
    """Before the solve every price is NaN; after it, at the solved prices each offer's demand in the trial
    clearing is at most its capacity, and full offers (zero marginal cost: every offer wants more share) meet
    it: demand / capacity = 1 to 2e-3 (the solve stops at a last move of ``OPENING_TOLERANCE`` = 1e-4 in log
    price, within about 5e-4 of the fixed point, times the logit demand's price elasticity of a few). No
    generator moved."""
    model = best_responders(tiny_fleet_dict)
    model.advance_technology()
    model.grow_demand()
    assert all(np.isnan(p.price).all() for p in model.providers)
    states = [g.bit_generator.state for g in (model.rng, model.shock_rng, model.corporate_rng)]
    opening, trial = model.open_offers()
    assert states == [g.bit_generator.state for g in (model.rng, model.shock_rng, model.corporate_rng)]
    assert opening == {p.holder_id for p in model.providers}
    assert trial is not None
    capacity = np.array([model.fleet.capacity[h, r] for h, r in zip(trial.holder, trial.region, strict=True)])
    np.testing.assert_allclose(trial.demand / capacity, 1.0, rtol=2e-3)


def test_step_zero_has_no_rationing_among_best_responders(tiny_fleet_dict: dict[str, Any]) -> None:
    """The recorded step 0 (with its offer shocks, sd 0.05) leaves under 1% of inside demand unmet; the old
    opening at 1.3 x unit cost left most offers oversubscribed."""
    model = best_responders(tiny_fleet_dict)
    model.step()
    c = model.clearing
    assert c.unmet.sum() / c.inside_demand.sum() < 0.01


def test_an_entrant_opens_at_the_price_that_fills_its_capacity(tiny_fleet_dict: dict[str, Any]) -> None:
    """After three months a specialist's prices are forgotten, as for an entrant: it opens, with every other
    price at last month's, at the price where its trial demand meets its capacity, not at 1.3 x unit cost."""
    model = best_responders(tiny_fleet_dict)
    for _ in range(3):
        model.step()
    entrant = next(p for p in model.providers if p.name == "specialist_1")
    others = {p.holder_id: p.price.copy() for p in model.providers if p is not entrant}
    entrant.price = np.full(len(entrant.regions), np.nan)
    model.advance_technology()
    model.grow_demand()
    opening, trial = model.open_offers()
    assert opening == {entrant.holder_id}
    assert trial is not None
    for h, price in others.items():
        np.testing.assert_array_equal(model.holders[h].price, price)  # incumbents keep last month's prices
    mine = np.nonzero(trial.holder == entrant.holder_id)[0]
    capacity = model.fleet.capacity[entrant.holder_id, trial.region[mine]]
    np.testing.assert_allclose(trial.demand[mine] / capacity, 1.0, rtol=2e-3)  # as at step 0
    cost = model.fleet.unit_cost[entrant.holder_id, trial.region[mine]]
    assert not np.allclose(entrant.price[np.isin(entrant.regions, trial.region[mine])], 1.3 * cost, rtol=1e-3)


@pytest.mark.parametrize("steps", [2])
def test_opening_prices_are_deterministic(tiny_fleet_dict: dict[str, Any], steps: int) -> None:
    a, b = best_responders(tiny_fleet_dict), best_responders(tiny_fleet_dict)
    for _ in range(steps):
        a.step()
        b.step()
    np.testing.assert_array_equal(a.offers.price, b.offers.price)
