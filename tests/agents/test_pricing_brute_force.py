"""Best response against brute force: on a small market with fleets, the price ``best_response`` posts for an
offer (iterated with every other price held fixed) is the price that maximizes its owner's month profit as
settlement books it (``market.accounts.settle_month`` after ``market.clearing.clear_logit_market``), found by a
grid search over that offer's price. Fleet costs are fixed within the month, so the marginal cost is zero; the
profit-maximizing price is the logit markup where capacity is slack and the price at which demand meets
capacity where it binds."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pytest

from market import demand
from market.accounts import settle_month
from market.clearing import clear_logit_market
from market.config.files import scenario_from_dict
from market.model import InferenceMarket
from market.offers import OfferBook


def booked_profit(model: InferenceMarket, offers: OfferBook, holder: int) -> float:
    """The holder's month profit at ``offers``' prices as settlement books it (no offer shocks)."""
    pop = model.population
    shares, outside = model._choice_shares(offers, None)
    effective = (shares @ offers.price) / np.maximum(1.0 - outside, 1e-300)
    volume = demand.effective_volume(model.base_volume, effective, pop.reference_price, pop.elasticity)
    clearing = clear_logit_market(shares, outside, volume, offers.capacity, offers.price,
                                  model.config.simulation.rationing_rounds)
    n = len(model.holders)
    books = np.zeros(n, dtype=bool)
    books[holder] = True
    return float(settle_month(offers, clearing, model.fleet, np.zeros(n), books).profit[holder])


def with_price(offers: OfferBook, index: int, price: float) -> OfferBook:
    prices = offers.price.copy()
    prices[index] = price
    return dataclasses.replace(offers, price=prices)


def strategy_price(model: InferenceMarket, offers: OfferBook, index: int, rounds: int = 200) -> float:
    """The offer's best-response price, every other price fixed: its strategy's rule iterated against the
    observation of the market at its own current price (the model's trial clearing)."""
    provider = model.roster.provider(int(offers.holder[index]))
    region = int(offers.region[index])
    j = int(np.nonzero(provider.regions == region)[0][0])
    for _ in range(rounds):
        observation = model._trial_observation(offers)
        provider.price = np.array([offers.price[k] for k in (
            np.nonzero((offers.holder == provider.holder_id) & (offers.region == r))[0][0] for r in provider.regions)])
        view = provider.pricing_view(model.step_index, model.fleet, observation, model.form)
        target = float(provider.pricing.opening_prices(view)[j])
        new = float(np.sqrt(offers.price[index] * target))  # damped by half in logs
        offers = with_price(offers, index, new)
        if abs(np.log(target / new)) < 1e-10:
            break
    return float(offers.price[index])


def brute_force_price(model: InferenceMarket, offers: OfferBook, index: int, around: float) -> float:
    """Grid search of the booked profit over the offer's price: 601 log-spaced prices from around/4 to 4 x
    around, then 801 prices within +-1% of the best (resolution 2.5e-5)."""
    holder = int(offers.holder[index])
    coarse = around * np.exp(np.linspace(np.log(0.25), np.log(4.0), 601))
    best = coarse[np.argmax([booked_profit(model, with_price(offers, index, p), holder) for p in coarse])]
    fine = best * np.linspace(0.99, 1.01, 801)
    return float(fine[np.argmax([booked_profit(model, with_price(offers, index, p), holder) for p in fine])])


def small_market(tiny_fleet_dict: dict[str, Any], focal: str, focal_capacity: float | None) -> InferenceMarket:
    """The tiny fleet market, one region, with every provider best-responding, no offer shocks, fixed volume
    (elasticity 0: best response holds the market's volume fixed) and linear utility (with zero marginal cost,
    log utility has no interior optimum short of capacity). Every provider but ``focal`` has unlimited
    capacity, so no rival rations the buyers the focal offer diverts (see docs/ODD.md); the focal offer keeps
    its fleet's capacity or gets ``focal_capacity``. Fleet costs stay. Stepped once (prices solved at step 0)."""
    d = tiny_fleet_dict
    d["logit"] = {"mu": 0.3, "utility_form": "linear", "offer_shock_sd": 0.0}
    d["regions"] = d["regions"][:1]
    for s in d["segments"]:
        s["price_elasticity"] = 0.0
    for p in d["providers"]:
        p["regions"] = ["na"]
        p["count"] = 1
        p["fleet"] = [lot for lot in p["fleet"] if lot["region"] == "na"]
        p["pricing"] = {"strategy": "best_response"}
        p["investment"] = {"strategy": "none"}
        if p["name"] != focal:
            p["capacity_mtok_per_month"] = math.inf
        elif focal_capacity is not None:
            p["capacity_mtok_per_month"] = focal_capacity
    d["resellers"] = []
    model = InferenceMarket(scenario_from_dict(d), seed=3)
    model.step()
    return model


@pytest.mark.parametrize(("name", "capacity", "binds"), [
    ("specialist", None, True),     # its H100s are full: the price is where demand meets capacity
    ("specialist", 1e9, False),     # capacity slack: the logit markup over zero marginal cost
    ("cloud", None, True),
    ("cloud", 1e9, False),
])
def test_best_response_is_the_booked_profit_maximum(tiny_fleet_dict: dict[str, Any], name: str,
                                                    capacity: float | None, binds: bool) -> None:
    model = small_market(tiny_fleet_dict, name, capacity)
    offers = model.offers
    provider = next(p for p in model.providers if p.name == name)
    index = int(np.nonzero(offers.holder == provider.holder_id)[0][0])
    assert offers.variable_cost[index] == 0.0  # a fleet: every cost is fixed within the month
    posted = strategy_price(model, offers, index)
    best = brute_force_price(model, offers, index, posted)
    assert posted == pytest.approx(best, rel=2e-3)
    observation = model._trial_observation(with_price(offers, index, posted))
    filled = observation.demand[index] / offers.capacity[index]
    assert (filled == pytest.approx(1.0, rel=1e-6)) if binds else filled < 0.99
