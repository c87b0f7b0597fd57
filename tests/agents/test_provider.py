"""Providers (agents/provider.py): views, opening and posted prices with the scarcity floor, quality, the
balance sheet through the ultimate owner, and what each kind does differently.

Views are built from small hand-made ``FleetEconomics``, ``OfferBook``, ``Clearing`` and ``MarketObservation``
objects; every expected value is worked out by hand in the docstring of its test.
"""

from __future__ import annotations

import math
from typing import Any

import mesa
import numpy as np
import pytest

from agents.pricing import PricingView
from agents.provider import (
    PROVIDER_KINDS,
    DecentralizedOperator,
    Hyperscaler,
    Provider,
    SpecializedProvider,
)
from market.clearing import Clearing
from market.config import (
    AdaptivePricing,
    CostPlusPricing,
    FleetLotConfig,
    ProviderConfig,
    ScenarioConfig,
)
from market.fleet import FleetEconomics
from market.model import InferenceMarket
from market.observation import MarketObservation
from market.offers import OfferBook
from market.technology import GenerationTable

SECONDS_PER_MONTH = 730.5 * 3600.0
"""2,629,800 s: one GPU at 1 token/s serves 2.6298 Mtok a month."""


def bare_model() -> mesa.Model:
    return mesa.Model(rng=np.random.default_rng(0))


def fixed_config(**changes: Any) -> ProviderConfig:
    """A fleet-less provider (fixed unit cost and capacity) serving regions a, b, c."""
    values: dict[str, Any] = {"name": "p", "kind": "specialized", "regions": ["a", "b", "c"],
                              "capacity_mtok_per_month": 100.0, "unit_cost_usd_per_mtok": 1.0}
    return ProviderConfig.model_validate({**values, **changes})


def fleet_config(**changes: Any) -> ProviderConfig:
    """A provider with a (nominal) fleet, so that its capacity is not fixed."""
    values: dict[str, Any] = {"name": "p", "kind": "specialized", "regions": ["a", "b", "c"],
                              "fleet": [FleetLotConfig(generation="G0", region="a", gpus=1)]}
    return ProviderConfig.model_validate({**values, **changes})


def make_provider(cls: type[Provider] = SpecializedProvider, *, holder_id: int = 0, regions: list[int] | None = None,
                  config: ProviderConfig | None = None, model: mesa.Model | None = None) -> Provider:
    return cls(model or bare_model(), name=(config or fixed_config()).name, holder_id=holder_id,
               config=config or fixed_config(), regions=[0, 1, 2] if regions is None else regions)


def fleet_economics(n_holders: int, n_regions: int, **arrays: Any) -> FleetEconomics:
    """FleetEconomics with zeros except the (holder x region) arrays given."""
    def get(name: str) -> np.ndarray:
        return np.asarray(arrays.get(name, np.zeros((n_holders, n_regions))), dtype=np.float64)

    return FleetEconomics(gpus=get("gpus"), capacity=get("capacity"), depreciation=get("depreciation"),
                          power_cost=get("power_cost"), opex=get("opex"), unit_cost=get("unit_cost"),
                          variable_cost=get("variable_cost"), load_mw=np.zeros(n_regions))


def observation(holder: list[int], region: list[int], **columns: list[float]) -> MarketObservation:
    n = len(holder)

    def col(name: str) -> np.ndarray:
        return np.asarray(columns.get(name, np.zeros(n)), dtype=np.float64)

    return MarketObservation(holder=np.array(holder, dtype=np.int64), region=np.array(region, dtype=np.int64),
                             demand=col("demand"), own_slope=col("own_slope"), beta=col("beta"),
                             recapture_owner=col("recapture_owner"), recapture_industry=col("recapture_industry"),
                             rival_price=col("rival_price"))


def pricing_view(**changes: Any) -> PricingView:
    values: dict[str, Any] = {
        "step": 1, "unit_cost": np.array([1.0]), "last_price": np.array([2.0]), "demand": np.array([0.0]),
        "own_slope": np.array([0.0]), "beta": np.array([0.0]), "recapture_owner": np.array([0.0]),
        "recapture_industry": np.array([0.0]), "rival_price": np.array([np.nan]), "capacity": np.array([np.inf]),
        "last_profit": 0.0, "cash": 0.0, "credit_limit": 0.0, "utility_form": "linear", "observed": True,
    }
    values = {**values, **changes}
    values.setdefault("marginal_cost", values["unit_cost"])
    return PricingView(**values)


# ---------------------------------------------------------------------------------------------------------
# the pricing view
# ---------------------------------------------------------------------------------------------------------


def test_pricing_view_reads_each_regions_offer_and_zeros_where_none_was_posted() -> None:
    """Provider 1 serves regions (2, 0, 1) of three. Last month it posted offers in region 2 (observation row 1)
    and region 0 (row 3), none in region 1; provider 0's offer in region 0 (row 2) is not its own. So its view
    reads rows (1, 3, none): demand (7, 9, 0), slopes (0.7, 0.9, 0), rival price (1.7, 1.9, NaN).
    Unit cost per region (3.0, 2.5, inf) -> region 1 has no GPUs and is costed at its cheapest region: 2.5."""
    cfg = fixed_config(cash_usd=123.0, credit_limit_usd=45.0, initial_price_usd_per_mtok=4.0)
    p = make_provider(holder_id=1, regions=[2, 0, 1], config=cfg)
    p.last_profit = -8.0
    fleet = fleet_economics(2, 3, unit_cost=[[9.0, 9.0, 9.0], [2.5, np.inf, 3.0]],
                            capacity=[[5.0, 5.0, 5.0], [40.0, 0.0, 30.0]])
    obs = observation(
        holder=[0, 1, 0, 1], region=[1, 2, 0, 0],
        demand=[5.0, 7.0, 8.0, 9.0], own_slope=[0.5, 0.7, 0.8, 0.9], beta=[5.5, 7.5, 8.5, 9.5],
        recapture_owner=[0.05, 0.07, 0.08, 0.09], recapture_industry=[0.15, 0.17, 0.18, 0.19],
        rival_price=[1.5, 1.7, 1.8, 1.9],
    )
    view = p.pricing_view(6, fleet, obs, "log")
    np.testing.assert_array_equal(view.unit_cost, [3.0, 2.5, 2.5])
    np.testing.assert_array_equal(view.capacity, [30.0, 40.0, 0.0])
    np.testing.assert_array_equal(view.demand, [7.0, 9.0, 0.0])
    np.testing.assert_array_equal(view.own_slope, [0.7, 0.9, 0.0])
    np.testing.assert_array_equal(view.beta, [7.5, 9.5, 0.0])
    np.testing.assert_array_equal(view.recapture_owner, [0.07, 0.09, 0.0])
    np.testing.assert_array_equal(view.recapture_industry, [0.17, 0.19, 0.0])
    np.testing.assert_array_equal(view.rival_price, [1.7, 1.9, np.nan])
    np.testing.assert_array_equal(view.last_price, [4.0, 4.0, 4.0])
    assert (view.step, view.last_profit, view.cash, view.credit_limit) == (6, -8.0, 123.0, 45.0)
    assert view.utility_form == "log"
    assert view.observed is True


def test_pricing_view_last_price_is_a_copy() -> None:
    """A strategy that edits its view's last price must not change the provider's posted price."""
    p = make_provider(config=fixed_config(initial_price_usd_per_mtok=4.0))
    view = p.pricing_view(0, fleet_economics(1, 3, unit_cost=np.ones((1, 3))), None, "linear")
    view.last_price[0] = 99.0
    np.testing.assert_array_equal(p.price, [4.0, 4.0, 4.0])


@pytest.mark.parametrize("empty", [True, False], ids=["empty observation", "no observation"])
def test_pricing_view_before_any_clearing_is_unobserved(empty: bool) -> None:
    """Without an observation (step 0), or with one of no offers, every observed column is 0, rival prices NaN,
    and ``observed`` False."""
    p = make_provider(regions=[0, 1])
    obs = observation([], []) if empty else None
    view = p.pricing_view(0, fleet_economics(1, 2, unit_cost=[[1.0, 2.0]]), obs, "linear")
    for column in (view.demand, view.own_slope, view.beta, view.recapture_owner, view.recapture_industry):
        np.testing.assert_array_equal(column, [0.0, 0.0])
    np.testing.assert_array_equal(view.rival_price, [np.nan, np.nan])
    assert view.observed is False


def test_pricing_view_in_a_model_costs_a_region_without_gpus_at_the_cheapest_region(
        tiny_fleet_config: ScenarioConfig) -> None:
    """In the tiny scenario, specialist_1 (holder 1) serves na and eu but has GPUs only in na: the fleet's unit
    cost in eu is infinite (no capacity), and its view costs eu at its na cost."""
    model = InferenceMarket(tiny_fleet_config, seed=0)
    p = model.roster.provider(1)
    assert p.name == "specialist_1"
    na_cost, eu_cost = model.fleet.unit_cost[1]
    assert np.isfinite(na_cost) and eu_cost == np.inf
    view = p.pricing_view(0, model.fleet, None, model.form)
    np.testing.assert_array_equal(view.unit_cost, [na_cost, na_cost])
    np.testing.assert_array_equal(view.capacity, model.fleet.capacity[1])


# ---------------------------------------------------------------------------------------------------------
# opening and posted prices
# ---------------------------------------------------------------------------------------------------------


def test_opening_price_is_1_3_times_unit_cost_for_offers_without_a_price_only() -> None:
    """Offers 0 and 2 were never priced (NaN): they open at 1.3 x unit cost (2.6 and 6.5); offer 1 keeps 4.0."""
    p = make_provider()
    p.price = np.array([np.nan, 4.0, np.nan])
    p.open_prices(pricing_view(unit_cost=np.array([2.0, 3.0, 5.0])))
    np.testing.assert_allclose(p.price, [2.6, 4.0, 6.5], rtol=1e-15)


def test_configured_initial_price_is_kept_by_open_prices() -> None:
    """With ``initial_price_usd_per_mtok = 0.7`` every offer starts at 0.7, which opening does not touch."""
    p = make_provider(config=fixed_config(initial_price_usd_per_mtok=0.7))
    np.testing.assert_array_equal(p.price, [0.7, 0.7, 0.7])
    p.open_prices(pricing_view(unit_cost=np.array([2.0, 3.0, 5.0])))
    np.testing.assert_array_equal(p.price, [0.7, 0.7, 0.7])


def test_scarcity_floor_lifts_prices_below_the_clearing_price_linear() -> None:
    """Cost plus (its documented ``scarcity_floor``, on by default) 30% on unit cost 1 decides 1.3 in three
    regions. Last month (price 2, demand 6, beta 1, slope 3)
    the fitted logit has share s0 = 1 - 3/(1*6) = 1/2, so the reachable market is 12 and the odds 1, and demand at
    price p is 12 / (1 + exp(p - 2)). Capacity 3: 12/(1 + e^(p-2)) = 3 -> p = 2 + ln 3 > 1.3, the floor binds.
    Capacity 9: p = 2 - ln 3 = 0.90 < 1.3, the decision stands. Unlimited capacity: no floor."""
    p = make_provider()
    view = pricing_view(unit_cost=np.ones(3), last_price=np.full(3, 2.0), demand=np.full(3, 6.0),
                        own_slope=np.full(3, 3.0), beta=np.ones(3), capacity=np.array([3.0, 9.0, np.inf]))
    prices = p.post_prices(view)
    np.testing.assert_allclose(prices, [2.0 + math.log(3.0), 1.3, 1.3], rtol=1e-12)
    np.testing.assert_array_equal(p.price, prices)


def test_scarcity_floor_with_log_utility() -> None:
    """Log utility, price 2, demand 6, beta 2: the slope at s0 = 1/2 is beta/p0 * D * (1 - s0) = 3; demand at
    price p is 12 / (1 + (p/2)^2). Capacity 3 -> (p/2)^2 = 3 -> p = 2 sqrt(3) = 3.46 above cost plus's 1.3."""
    p = make_provider(regions=[0])
    view = pricing_view(last_price=np.array([2.0]), demand=np.array([6.0]), own_slope=np.array([3.0]),
                        beta=np.array([2.0]), capacity=np.array([3.0]), utility_form="log")
    np.testing.assert_allclose(p.post_prices(view), [2.0 * math.sqrt(3.0)], rtol=1e-12)


def test_no_scarcity_floor_before_any_observation() -> None:
    """Unobserved (step 0), the same scarce offer as above is priced at cost plus's 1.3."""
    p = make_provider(regions=[0])
    view = pricing_view(last_price=np.array([2.0]), demand=np.array([6.0]), own_slope=np.array([3.0]),
                        beta=np.array([1.0]), capacity=np.array([3.0]), observed=False)
    np.testing.assert_allclose(p.post_prices(view), [1.3], rtol=1e-15)


def test_price_offers_opens_then_decides_and_returns_the_regions_with_capacity() -> None:
    """An adaptive pricer (step 0.05) never priced, with nothing observed: unit cost (2, inf -> 2, 4) opens at
    1.3 x (2, 2, 4), and its first decision, with no gradient to read, keeps it. It offers where it has capacity:
    regions 0 and 2."""
    p = make_provider(config=fleet_config(pricing=AdaptivePricing(step=0.05)))
    fleet = fleet_economics(1, 3, unit_cost=[[2.0, np.inf, 4.0]], capacity=[[10.0, 0.0, 5.0]])
    offering = p.price_offers(0, fleet, None, "linear")
    assert offering is not None
    np.testing.assert_array_equal(offering, [True, False, True])
    np.testing.assert_allclose(p.price, 1.3 * np.array([2.0, 2.0, 4.0]), rtol=1e-14)


def test_price_offers_with_nothing_to_sell() -> None:
    """No capacity in any of its regions (capacity elsewhere does not count), or exited: no offers, prices kept."""
    p = make_provider(regions=[0, 1], config=fixed_config(initial_price_usd_per_mtok=3.0))
    fleet = fleet_economics(1, 3, unit_cost=np.ones((1, 3)), capacity=[[0.0, 0.0, 8.0]])
    assert p.price_offers(1, fleet, None, "linear") is None
    np.testing.assert_array_equal(p.price, [3.0, 3.0])
    p.active = False
    assert p.price_offers(1, fleet_economics(1, 3, unit_cost=np.ones((1, 3)), capacity=np.ones((1, 3))), None,
                          "linear") is None
    np.testing.assert_array_equal(p.price, [3.0, 3.0])


def test_invalid_prices_are_refused_naming_the_provider() -> None:
    """Unit cost 0 makes cost plus decide a price of 0, which is not a valid price."""
    p = make_provider(regions=[0], config=fixed_config(name="acme"))
    with pytest.raises(ValueError, match=r"acme: pricing strategy 'cost_plus' returned invalid prices"):
        p.post_prices(pricing_view(unit_cost=np.array([0.0]), observed=False))


def test_strategies_come_from_the_config() -> None:
    p = make_provider(config=fixed_config(pricing=AdaptivePricing()))
    assert p.pricing.name == "adaptive"
    assert p.investment.name == "utilization_target"
    assert p.acquisition.name == "value_over_price"
    cost_plus = make_provider(config=fixed_config(pricing=CostPlusPricing(markup=0.1))).pricing
    np.testing.assert_allclose(cost_plus.decide(pricing_view(unit_cost=np.array([2.0]))), [2.2], rtol=1e-15)


# ---------------------------------------------------------------------------------------------------------
# the investment view
# ---------------------------------------------------------------------------------------------------------

GENERATIONS = GenerationTable(
    names=("G0", "G1", "G2"), release_step=np.array([-50, -5, 10]),
    list_price_usd=np.array([10000.0, 20000.0, 40000.0]),
    throughput_tokens_per_s=np.array([500.0, 1000.0, 3000.0]), power_kw=np.array([0.5, 1.0, 1.5]),
    lifetime_months=np.array([48, 60, 60]), vendor_supply_per_month=np.full(3, np.inf),
)


def offers_of(holder: list[int], region: list[int]) -> OfferBook:
    n = len(holder)
    z = np.zeros(n)
    return OfferBook(holder=np.array(holder, dtype=np.int64), region=np.array(region, dtype=np.int64),
                     kind=np.zeros(n, dtype=np.int64), owner=np.array(holder, dtype=np.int64), quality=z, price=z,
                     unit_cost=z, capacity=z, variable_cost=z, privacy_risk=z, lock_in=z, unverified=z, reliability=z,
                     via=np.full(n, -1, dtype=np.int64))


def clearing_of(offer_demand: list[float], served: list[float]) -> Clearing:
    n = len(served)
    return Clearing(shares=np.zeros((1, n)), outside_share=np.zeros(1), allocation=np.zeros((1, n)),
                    offer_demand=np.array(offer_demand), served=np.array(served), revenue=np.zeros(n),
                    spend=np.zeros(1), inside_demand=np.zeros(1), unmet=np.zeros(1))


def test_investment_view_by_hand() -> None:
    """A decentralized operator (holder 3, regions (0, 2)) with serving efficiency 1.5, verification overhead 0.2
    (capacity factor 0.8), at algorithmic efficiency 2 and step 6.

    Demand: its offer in region 2 had demand 5 and served 8 (overflow) -> 8; in region 0 demand 7 served 4 -> 7;
    holder 0's offer in region 2 is not its own. Tokens per GPU-month = throughput x 1.5 x 0.8 x 2 x 2.6298 =
    (3155.76, 6311.52, 18934.56) Mtok. Newest on sale at step 6 is G1 (G2 comes at step 10): $20,000, 60 months.
    Life left: G0 max(48 - 56, 1) = 1, G1 60 - 11 = 49, G2 (unreleased) 60. Installed: 10 GPUs and 50,000 Mtok in
    region 0 (5,000 per GPU); none in region 2, where the best generation's 18934.56 is used."""
    cfg = fleet_config(kind="decentralized", serving_efficiency=1.5, verification=True, verification_overhead=0.2,
                       cash_usd=77.0, credit_limit_usd=11.0)
    p = make_provider(DecentralizedOperator, holder_id=3, regions=[0, 2], config=cfg)
    p.monthly_operating_cost = 5.5
    capacity = np.zeros((4, 3))
    gpus = np.zeros((4, 3))
    capacity[3] = [50000.0, 999.0, 0.0]
    gpus[3] = [10.0, 1.0, 0.0]
    used_price = np.array([100.0, np.nan, 300.0])
    used_available = np.array([4, 0, 0])
    view = p.investment_view(step=6, fleet=fleet_economics(4, 3, capacity=capacity, gpus=gpus),
                             offers=offers_of([3, 0, 3], [2, 2, 0]), clearing=clearing_of([5.0, 100.0, 7.0],
                                                                                          [8.0, 50.0, 4.0]),
                             generations=GENERATIONS, algorithmic_efficiency=2.0, used_price=used_price,
                             used_available=used_available)
    assert view is not None
    np.testing.assert_array_equal(view.demand, [7.0, 8.0])
    np.testing.assert_allclose(view.tokens_per_gpu, [3155.76, 6311.52, 18934.56], rtol=1e-12)
    assert view.new_generation == 1
    assert view.new_price == 20000.0
    assert view.new_tokens_per_gpu == pytest.approx(6311.52, rel=1e-12)
    assert view.new_lifetime == 60
    np.testing.assert_array_equal(view.used_life_left, [1.0, 49.0, 60.0])
    np.testing.assert_array_equal(view.capacity, [50000.0, 0.0])
    np.testing.assert_array_equal(view.installed_gpus, [10.0, 0.0])
    np.testing.assert_allclose(view.tokens_per_installed_gpu, [5000.0, 18934.56], rtol=1e-12)
    assert view.used_price is used_price and view.used_available is used_available
    assert (view.step, view.cash, view.credit_limit, view.monthly_operating_cost) == (6, 77.0, 11.0, 5.5)


def test_investment_view_before_any_generation_is_on_sale() -> None:
    """At step -60 no generation is released: nothing new to buy (price inf, no tokens, no lifetime)."""
    p = make_provider(regions=[0], config=fleet_config())
    view = p.investment_view(step=-60, fleet=fleet_economics(1, 1), offers=offers_of([], []),
                             clearing=clearing_of([], []), generations=GENERATIONS, algorithmic_efficiency=1.0,
                             used_price=np.full(3, np.nan), used_available=np.zeros(3, dtype=np.int64))
    assert view is not None
    assert (view.new_generation, view.new_price, view.new_tokens_per_gpu, view.new_lifetime) == (-1, np.inf, 0.0, 0)
    np.testing.assert_array_equal(view.demand, [0.0])


def test_no_investment_view_for_fixed_capacity_or_without_generations() -> None:
    kwargs: dict[str, Any] = {"step": 0, "fleet": fleet_economics(1, 3), "offers": offers_of([], []),
                              "clearing": clearing_of([], []), "algorithmic_efficiency": 1.0,
                              "used_price": np.zeros(0), "used_available": np.zeros(0, dtype=np.int64)}
    assert make_provider(config=fixed_config()).investment_view(generations=GENERATIONS, **kwargs) is None
    empty = GenerationTable(names=(), release_step=np.zeros(0, dtype=np.int64), list_price_usd=np.zeros(0),
                            throughput_tokens_per_s=np.zeros(0), power_kw=np.zeros(0),
                            lifetime_months=np.zeros(0, dtype=np.int64), vendor_supply_per_month=np.zeros(0))
    assert make_provider(config=fleet_config()).investment_view(generations=empty, **kwargs) is None


# ---------------------------------------------------------------------------------------------------------
# quality and privacy
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("mode", "base"), [("frontier", 2.0), ("open", 1.5), (1.2, 1.2)])
def test_quality_follows_its_mode_and_factor(mode: str | float, base: float) -> None:
    """Quality = base (frontier 2.0, open-weight 1.5, or the fixed index) x quality factor 0.8; no flywheel."""
    p = make_provider(config=fixed_config(quality=mode, quality_factor=0.8))
    assert p.quality(2.0, 1.5) == pytest.approx(base * 0.8, rel=1e-15)
    assert p.flywheel_gain == 0.0


def test_flywheel_raises_quality_and_privacy_risk() -> None:
    """Learning rate 0.1, scale 1e6 Mtok, 3e6 Mtok served: gain = 0.1 ln(1 + 3) = 0.13863. Quality on a frontier
    of 2 with factor 0.5: 2 x 0.5 x 1.13863; privacy risk 0.2 + 0.5 x 0.13863."""
    p = make_provider(config=fixed_config(quality="frontier", quality_factor=0.5, flywheel_learning_rate=0.1,
                                          flywheel_scale_mtok=1e6, privacy_risk=0.2, flywheel_privacy_cost=0.5))
    assert p.privacy_risk == 0.2
    p.cumulative_served_mtok = 3e6
    gain = 0.1 * math.log(4.0)
    assert p.flywheel_gain == pytest.approx(gain, rel=1e-14)
    assert p.quality(2.0, 1.0) == pytest.approx(1.0 + gain, rel=1e-14)
    assert p.privacy_risk == pytest.approx(0.2 + 0.5 * gain, rel=1e-14)


# ---------------------------------------------------------------------------------------------------------
# ownership and the balance sheet
# ---------------------------------------------------------------------------------------------------------


def test_an_acquired_provider_pays_from_its_owners_treasury() -> None:
    """B ($10, risk 0.1) joins A ($100, risk 0.4, credit $50): A holds $110, B's own cash is 0 and B reads A's
    cash and credit limit; B adopts A's higher privacy risk. Spending $30 through B leaves A with $80."""
    model = bare_model()
    a = make_provider(Hyperscaler, holder_id=0, model=model,
                      config=fixed_config(name="a", cash_usd=100.0, credit_limit_usd=50.0, privacy_risk=0.4))
    b = make_provider(holder_id=1, model=model,
                      config=fixed_config(name="b", cash_usd=10.0, credit_limit_usd=5.0, privacy_risk=0.1))
    b.consolidate_into(a)
    assert (a.cash, b.cash, b._cash) == (110.0, 110.0, 0.0)
    assert b.credit_limit == 50.0
    assert (b.owner, b.owner_id, b.parent) == (a, 0, a)
    assert b.privacy_risk == 0.4
    b.cash -= 30.0
    assert (a.cash, b.cash, b._cash) == (80.0, 80.0, 0.0)


def test_privacy_risk_is_kept_when_higher_than_the_acquirers() -> None:
    model = bare_model()
    a = make_provider(holder_id=0, model=model, config=fixed_config(name="a", privacy_risk=0.1))
    b = make_provider(holder_id=1, model=model, config=fixed_config(name="b", privacy_risk=0.3))
    b.consolidate_into(a)
    assert b.privacy_risk == 0.3


def test_ownership_chains_to_the_ultimate_owner() -> None:
    """C ($5) joins B, then B ($7 + 5 = 12) joins A ($100): C's owner is A, which holds $112; D ($1) joining the
    subsidiary C also pays into A ($113)."""
    model = bare_model()
    a, b, c, d = (make_provider(holder_id=h, model=model, config=fixed_config(name=n, cash_usd=cash))
                  for h, (n, cash) in enumerate([("a", 100.0), ("b", 7.0), ("c", 5.0), ("d", 1.0)]))
    c.consolidate_into(b)
    assert (b.cash, c.owner_id) == (12.0, 1)
    b.consolidate_into(a)
    assert (a.cash, b.cash, c.cash, c.owner_id, c.parent) == (112.0, 112.0, 112.0, 0, b)
    d.consolidate_into(c)
    assert (a.cash, d.owner_id) == (113.0, 0)


def test_debt_joins_the_acquirers_balance_sheet() -> None:
    model = bare_model()
    a = make_provider(holder_id=0, model=model, config=fixed_config(name="a", cash_usd=100.0))
    b = make_provider(holder_id=1, model=model, config=fixed_config(name="b", cash_usd=-40.0))
    b.consolidate_into(a)
    assert a.cash == 60.0


# ---------------------------------------------------------------------------------------------------------
# kinds
# ---------------------------------------------------------------------------------------------------------


def test_kind_registry() -> None:
    assert PROVIDER_KINDS == {"hyperscaler": Hyperscaler, "specialized": SpecializedProvider,
                              "decentralized": DecentralizedOperator}


@pytest.mark.parametrize(("new", "held", "expected"), [
    ([3], [0, 1], [0]),
    ([3], [2, 0, 1], [2]),
    ([3], [1], []),
    ([3], [], []),
    ([], [0, 1], []),
])
def test_hyperscaler_retires_its_oldest_generation_only_when_holding_two_or_more(
        new: list[int], held: list[int], expected: list[int]) -> None:
    """``held`` is ordered oldest release first, so the oldest is its first entry."""
    p = make_provider(Hyperscaler, config=fixed_config(kind="hyperscaler"))
    assert p.generations_to_retire(new, held) == expected


@pytest.mark.parametrize("cls", [SpecializedProvider, DecentralizedOperator])
def test_other_kinds_retire_nothing(cls: type[Provider]) -> None:
    assert make_provider(cls).generations_to_retire([3], [0, 1, 2]) == []


@pytest.mark.parametrize(("verification", "unverified", "factor"), [(False, 1.0, 1.0), (True, 0.0, 0.75)])
def test_decentralized_verification_trades_capacity_for_trust(verification: bool, unverified: float,
                                                              factor: float) -> None:
    """Unverified, all capacity is unverified and none is lost; verified with overhead 0.25, 75% serves buyers."""
    p = make_provider(DecentralizedOperator, config=fixed_config(kind="decentralized", verification=verification,
                                                                 verification_overhead=0.25))
    assert (p.unverified_fraction, p.capacity_factor) == (unverified, factor)


@pytest.mark.parametrize("cls", [Hyperscaler, SpecializedProvider])
def test_centralized_kinds_are_verified_at_full_capacity(cls: type[Provider]) -> None:
    p = make_provider(cls, config=fixed_config(verification=True, verification_overhead=0.25))
    assert (p.unverified_fraction, p.capacity_factor) == (0.0, 1.0)
