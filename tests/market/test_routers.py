"""Routers (market.routers): routing to the cheapest eligible offer, router rows, shared capacity, pass-through
accounts and multi-homing, each against a hand calculation."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from market.accounts import settle_month
from market.clearing import CapacityPools, Clearing, clear_logit_market
from market.config.errors import ConfigError
from market.config.files import scenario_from_dict
from market.fleet import FleetEconomics
from market.model import InferenceMarket
from market.offers import OfferBook
from market.routers import (
    attributed_to_providers,
    behind_router_offers,
    capacity_pools,
    cheapest_eligible,
    eligible_offers,
    multi_homing_relief,
    pass_through,
    provider_attributed_revenue,
    provider_level,
    with_router_offers,
)


def book() -> OfferBook:
    """Four provider offers (holders 0-3): regions 0, 0, 1, 1; kinds 0, 1, 1, 2; quality 1.0, 0.8, 0.9, 0.5;
    prices 3, 2, 2.5, 1; variable costs 1, 1, 0.5, 0.5."""
    n = 4
    return OfferBook(holder=np.arange(n), region=np.array([0, 0, 1, 1]), kind=np.array([0, 1, 1, 2]),
                     owner=np.arange(n), quality=np.array([1.0, 0.8, 0.9, 0.5]), price=np.array([3.0, 2.0, 2.5, 1.0]),
                     unit_cost=np.ones(n), capacity=np.array([4.0, np.inf, np.inf, np.inf]),
                     variable_cost=np.array([1.0, 1.0, 0.5, 0.5]), privacy_risk=np.zeros(n), lock_in=np.zeros(n),
                     unverified=np.zeros(n), reliability=np.ones(n), via=np.full(n, -1))


def test_router_routes_to_the_cheapest_offer_meeting_its_kinds_and_quality() -> None:
    offers = book()
    kinds = np.array([0, 1])
    tier = np.zeros(4, dtype=np.int64)
    # min quality 0.85: region 0 has only offer 0 (offer 1 is below), region 1 offer 2 (offer 3 is of kind 2)
    strict = eligible_offers(offers, kinds, 0.85)
    np.testing.assert_array_equal(strict, [True, False, True, False])
    np.testing.assert_array_equal(cheapest_eligible(offers.price, offers.region, tier, strict, 2), [[0], [2]])
    # no quality threshold: the cheaper offer 1 (2.0 < 3.0) wins region 0
    loose = eligible_offers(offers, kinds, 0.0)
    np.testing.assert_array_equal(cheapest_eligible(offers.price, offers.region, tier, loose, 2), [[1], [2]])
    # one kind only: region 0 has offer 0, region 1 nothing eligible
    only = eligible_offers(offers, np.array([0]), 0.0)
    np.testing.assert_array_equal(cheapest_eligible(offers.price, offers.region, tier, only, 3), [[0], [-1], [-1]])
    # tiers: the choice is per (region, tier); offers 0 and 1 in different tiers are each cheapest of their tier
    tiered = np.array([0, 1, 0, 0])
    np.testing.assert_array_equal(cheapest_eligible(offers.price, offers.region, tiered, loose, 2, 2),
                                  [[0, 1], [2, -1]])


def test_router_rows_pools_and_payments_by_hand() -> None:
    offers = with_router_offers(book(), holder=np.array([9, 9]), via=np.array([0, 2]), fee=np.array([0.3, 0.25]))
    assert len(offers) == 6
    np.testing.assert_array_equal(offers.holder[4:], [9, 9])
    np.testing.assert_array_equal(offers.owner[4:], [9, 9])
    np.testing.assert_array_equal(offers.via, [-1, -1, -1, -1, 0, 2])
    np.testing.assert_allclose(offers.price[4:], [3.3, 2.75])
    np.testing.assert_array_equal(offers.quality[4:], [1.0, 0.9])
    np.testing.assert_array_equal(offers.kind[4:], [0, 1])
    pools = capacity_pools(offers)
    np.testing.assert_array_equal(pools.pool, [0, 1, 2, 3, 0, 2])
    np.testing.assert_array_equal(pools.capacity[:4], [4.0, np.inf, np.inf, np.inf])

    # served: provider offers 10 / 0 / 5 / 0 Mtok, router offers 4 and 6
    served = np.array([10.0, 0.0, 5.0, 0.0, 4.0, 6.0])
    routed = pass_through(offers, served, 10)
    assert routed.router_revenue[9] == pytest.approx(3.3 * 4 + 2.75 * 6)  # 29.7
    assert routed.router_cost[9] == pytest.approx(3.0 * 4 + 2.5 * 6)  # 27.0
    np.testing.assert_allclose(routed.provider_revenue[[0, 2]], [12.0, 15.0])
    np.testing.assert_allclose(routed.provider_served[[0, 2]], [4.0, 6.0])
    np.testing.assert_allclose(routed.provider_variable_cost[[0, 2]], [4.0, 3.0])
    np.testing.assert_allclose(attributed_to_providers(served, offers.via), [14.0, 0.0, 11.0, 0.0, 4.0, 6.0])
    revenue, owner = provider_attributed_revenue(offers, served * offers.price, served)
    np.testing.assert_allclose(revenue, [30.0, 0.0, 12.5, 0.0, 12.0, 15.0])
    np.testing.assert_array_equal(owner, [0, 1, 2, 3, 0, 2])
    factor, serving = provider_level(offers)
    np.testing.assert_allclose(factor, [1, 1, 1, 1, 3.0 / 3.3, 2.5 / 2.75])
    np.testing.assert_array_equal(serving, [0, 1, 2, 3, 0, 2])

    # the accounts: buyers pay 30 + 12.5 + 29.7 = 72.2; provider 0 earns 30 + 12, provider 2 12.5 + 15
    n = 10
    zero = np.zeros((n, 1))
    fleet = FleetEconomics(**{name: zero.copy() for name in FleetEconomics.__dataclass_fields__})
    none = np.zeros(1)
    clearing = Clearing(shares=np.zeros((1, 6)), outside_share=none, allocation=served[None, :], offer_demand=served,
                        served=served, revenue=served * offers.price, spend=none, inside_demand=none, unmet=none)
    s = settle_month(offers, clearing, fleet, np.zeros(n), np.ones(n, dtype=bool))
    np.testing.assert_allclose(s.revenue[[0, 2, 9]], [42.0, 27.5, 29.7])
    np.testing.assert_allclose(s.served[[0, 2, 9]], [14.0, 11.0, 0.0])
    np.testing.assert_allclose(s.cash_cost[[0, 2, 9]], [14.0, 5.5, 27.0])
    np.testing.assert_allclose(s.profit[[0, 2, 9]], [28.0, 22.0, 2.7])
    assert s.revenue[[0, 2]].sum() - 12.5 - 30.0 == pytest.approx(s.cash_cost[9])  # routers' cost = pass-through


def test_shared_pool_rations_the_provider_and_its_router_offer_together() -> None:
    """One buyer, 10 Mtok, shares 0.5 (provider offer, capacity 4) and 0.3 (router offer of it), outside 0.2: the
    pool's demand is 8, its fill 4 / 8 = 0.5, so 2.5 and 1.5 Mtok are served (4 in all), no re-offer."""
    shares, outside = np.array([[0.5, 0.3]]), np.array([0.2])
    pools = CapacityPools(pool=np.array([0, 0]), weight=np.ones(2), capacity=np.array([4.0]))
    c = clear_logit_market(shares, outside, np.array([10.0]), None, np.array([1.0, 1.1]), rounds=0,  # type: ignore[arg-type]
                           pools=pools)
    np.testing.assert_allclose(c.served, [2.5, 1.5])
    np.testing.assert_allclose(c.unmet, [4.0])
    per_offer = clear_logit_market(shares, outside, np.array([10.0]), np.array([4.0, 4.0]), np.array([1.0, 1.1]),
                                   rounds=0, pools=CapacityPools.per_offer(np.array([4.0, 4.0])))
    np.testing.assert_allclose(per_offer.served, [4.0, 3.0])


def test_router_customers_move_to_the_providers_behind_it_at_the_scaled_switching_cost() -> None:
    """Buyer 0's main offer is the router's (offer 4, region 0, routing to kinds 0 and 1): offers 0 and 1 are behind
    it, so their utility rises by (1 - 0.25) x 2 = 1.5; buyer 1 (main offer: provider 0) is unchanged."""
    offers = with_router_offers(book(), holder=np.array([9]), via=np.array([0]), fee=np.array([0.3]))
    behind = behind_router_offers(offers, {9: eligible_offers(offers, np.array([0, 1]), 0.0)})
    np.testing.assert_array_equal(behind[4], [True, True, False, False, False])
    assert not behind[:4].any()
    utility = np.zeros((2, 5))
    factor = np.array([1.0, 1.0, 1.0, 1.0, 0.25])
    multi_homing_relief(utility, np.array([4, 0]), np.array([2.0, 2.0]), factor, behind)
    np.testing.assert_allclose(utility, [[1.5, 1.5, 0.0, 0.0, 0.0], [0.0] * 5])


def two_provider_market(routers: list[dict[str, Any]]) -> dict[str, Any]:
    """Frontier 2.0 (no growth); a hyperscaler at quality 2.0 and unit cost 2, a specialist at quality 1.0 and
    unit cost 1, both cost-plus 50% with unlimited capacity (prices 3.0 and 1.5), one region."""
    def firm(name: str, kind: str, quality: float, cost: float) -> dict[str, Any]:
        return {"name": name, "kind": kind, "regions": ["global"], "quality": quality,
                "unit_cost_usd_per_mtok": cost, "capacity_mtok_per_month": math.inf, "cash_usd": 1e6,
                "pricing": {"strategy": "cost_plus", "markup": 0.5, "scarcity_floor": False},
                "investment": {"strategy": "none"}}

    return {
        "name": "routed", "simulation": {"steps": 2, "rationing_rounds": 0},
        "logit": {"mu": 0.5, "utility_form": "linear", "offer_shock_sd": 0.0},
        "outside_option": {"value": -50.0, "self_hosting": False},
        "technology": {"frontier_quality_start": 2.0, "frontier_growth_per_year": 0.0},
        "regions": [{"name": "global", "latency_penalty": 0.0}],
        "segments": [{"name": "buyers", "n_agents": 4, "base_demand_mtok_per_month": 100.0, "demand_dispersion": 0.0,
                      "price_elasticity": 0.0, "switching_cost": 0.0}],
        "providers": [firm("cloud", "hyperscaler", 2.0, 2.0), firm("spec", "specialized", 1.0, 1.0)],
        "routers_enabled": True, "routers": routers,
    }


def test_model_router_routes_to_the_cheapest_eligible_provider_and_pays_it() -> None:
    """A router with min quality 0.9 x frontier 2.0 = 1.8 may not use the specialist (quality 1.0, price 1.5), so it
    routes to the hyperscaler (price 3.0) at 3.0 x 1.1 = 3.3; buyers pay it 3.3 per Mtok, it pays 3.0, the
    hyperscaler counts the tokens as served. Without the quality threshold it routes to the specialist at 1.65."""
    model = InferenceMarket(scenario_from_dict(two_provider_market([
        {"name": "router", "fee": {"strategy": "fixed_markup", "markup": 0.1}, "min_quality": 0.9}])), seed=1)
    model.step()
    o, c, s = model.offers, model.clearing, model.settlement
    np.testing.assert_allclose(o.price, [3.0, 1.5, 3.3])
    np.testing.assert_array_equal(o.via, [-1, -1, 0])
    router = model.roster.routers[0].holder_id
    x_cloud, x_spec, x_router = c.served
    assert x_router > 0
    assert s.revenue[router] == pytest.approx(3.3 * x_router)
    assert s.cash_cost[router] == pytest.approx(3.0 * x_router)
    assert s.profit[router] == pytest.approx(0.3 * x_router)
    assert s.revenue[0] == pytest.approx(3.0 * (x_cloud + x_router))
    assert s.served[0] == pytest.approx(x_cloud + x_router)
    assert s.cash_cost[0] == pytest.approx(2.0 * (x_cloud + x_router))  # unit cost 2 on every token it serves
    assert s.revenue[1] == pytest.approx(1.5 * x_spec)
    assert model.roster.routers[0].cash == pytest.approx(1e8 + 0.3 * x_router)
    assert [a.name for a in model.agents if a.kind == "router"] == ["router"]  # a Mesa agent, collected
    agents = model.datacollector.get_agent_vars_dataframe()
    assert agents[agents["kind"] == "router"]["cash"].iloc[-1] == pytest.approx(1e8 + 0.3 * x_router)
    assert c.spend.sum() == pytest.approx(3.0 * x_cloud + 1.5 * x_spec + 3.3 * x_router)

    loose = InferenceMarket(scenario_from_dict(two_provider_market([
        {"name": "router", "fee": {"strategy": "fixed_markup", "markup": 0.1}}])), seed=1)
    loose.step()
    np.testing.assert_allclose(loose.offers.price, [3.0, 1.5, 1.65])
    np.testing.assert_array_equal(loose.offers.via, [-1, -1, 1])


def test_routers_off_leaves_no_trace() -> None:
    """Declared but not enabled: no router agent, no router offer; the router columns (kept so that runs with
    routers on and off compare) say so: no router tokens, the provider HHI is the customer-facing HHI."""
    scenario = two_provider_market([{"name": "router"}])
    scenario["routers_enabled"] = False
    model = InferenceMarket(scenario_from_dict(scenario), seed=1)
    model.step()
    assert not model.roster.routers
    assert (model.offers.via == -1).all()
    row = model.recorder.last_model_row
    assert row["router_token_share"] == 0.0 and row["router_revenue"] == 0.0 and math.isnan(row["router_margin"])
    assert row["hhi_providers"] == row["hhi_customer_facing"] == row["hhi"]
    assert "router" not in set(model.recorder.frames()["providers"]["kind"])


@pytest.mark.parametrize(("router", "needle"), [
    ({"name": "router", "switching_cost_factor": 1.5}, "switching_cost_factor"),
    ({"name": "router", "provider_kinds": ["cloud"]}, "provider_kinds"),
    ({"name": "router", "fee": {"strategy": "auction"}}, "fee"),
    ({"name": "cloud"}, "duplicate name 'cloud'"),
])
def test_bad_router_settings_are_named(router: dict[str, Any], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        scenario_from_dict(two_provider_market([router]))
