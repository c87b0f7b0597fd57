"""The roster (agents/roster.py): firms by holder id, their state gathered into per-holder arrays, and the views
and orders built from them. Every expected array is written out by hand from the firms set up in :func:`roster`.
"""

from __future__ import annotations

import math
from typing import Any

import mesa
import numpy as np
import pytest

from agents.investment import FleetOrder
from agents.provider import DecentralizedOperator, Hyperscaler, SpecializedProvider
from agents.reseller import HardwareReseller
from agents.roster import Roster
from market.accounts import Settlement
from market.config import AcquisitionConfig, FleetLotConfig, ProviderConfig, ResellerConfig, ScenarioConfig
from market.fleet import FleetEconomics
from market.hardware import GpuLedger
from market.model import InferenceMarket
from market.technology import GenerationTable

SEEDS = np.random.SeedSequence(0)
"""Pricing seeds of the hand-built rosters."""
REGIONS = ["na", "eu", "apac"]
NAN = math.nan


def lot(region: str) -> FleetLotConfig:
    return FleetLotConfig(generation="G0", region=region, gpus=1)


CLOUD = ProviderConfig(name="cloud", kind="hyperscaler", regions=["na", "eu"], fleet=[lot("na")], quality="frontier",
                       quality_factor=0.9, serving_efficiency=0.5, lock_in=0.5, privacy_risk=0.3, reliability=0.95,
                       cash_usd=1000.0, credit_limit_usd=500.0, cost_of_capital_per_year=0.12,
                       opex_usd_per_gpu_month=250.0, pue=1.2, cost_basis_utilization=0.8, retire_age_months=12)
SPEC = ProviderConfig(name="spec", kind="specialized", fleet=[lot("apac"), lot("eu"), lot("apac")], quality="open",
                      cash_usd=-1.0, credit_limit_usd=40.0, cost_of_capital_per_year=0.2)
SWARM = ProviderConfig(name="swarm", kind="decentralized", regions=["na"], capacity_mtok_per_month=50.0,
                       unit_cost_usd_per_mtok=0.7, quality=1.1, verification=True, verification_overhead=0.2,
                       cash_usd=30.0, credit_limit_usd=0.0, reliability=0.9)


def roster() -> Roster:
    """Holder 0: hyperscaler 'cloud' (na, eu); 1: reseller 'res' (margin 0.1); 2: specialized 'spec' (no regions
    listed, GPUs in apac and eu -> serves eu, apac); 3: decentralized 'swarm' (na, fixed capacity 50 and unit cost
    0.7, verified with 20% overhead); 4: reseller 'res2' (margin 0.3)."""
    model = mesa.Model(rng=np.random.default_rng(0))
    r = Roster()
    acq = AcquisitionConfig()
    r.new_provider(model, CLOUD, "cloud", REGIONS, acq, SEEDS)
    r.new_reseller(model, ResellerConfig(name="res", margin=0.1, reference_units=100.0), "res", 3)
    r.new_provider(model, SPEC, "spec", REGIONS, acq, SEEDS)
    r.new_provider(model, SWARM, "swarm", REGIONS, acq, SEEDS)
    r.new_reseller(model, ResellerConfig(name="res2", margin=0.3, reference_units=100.0), "res2", 3)
    return r


def fleet(**arrays: Any) -> FleetEconomics:
    """FleetEconomics over the roster's 5 holders and 3 regions, zeros except the arrays given."""
    def get(name: str) -> np.ndarray:
        return np.asarray(arrays.get(name, np.zeros((5, 3))), dtype=np.float64)

    return FleetEconomics(gpus=get("gpus"), capacity=get("capacity"), depreciation=get("depreciation"),
                          power_cost=get("power_cost"), opex=get("opex"), unit_cost=get("unit_cost"),
                          variable_cost=get("variable_cost"), load_mw=np.zeros(3))


# ---------------------------------------------------------------------------------------------------------
# registration
# ---------------------------------------------------------------------------------------------------------


def test_firms_get_holder_ids_in_creation_order() -> None:
    r = roster()
    assert len(r) == 5 and r.next_id == 5
    assert r.names == ["cloud", "res", "spec", "swarm", "res2"]
    assert [type(h) for h in r.holders] == [Hyperscaler, HardwareReseller, SpecializedProvider, DecentralizedOperator,
                                           HardwareReseller]
    assert [h.holder_id for h in r.holders] == [0, 1, 2, 3, 4]
    assert [p.name for p in r.providers] == ["cloud", "spec", "swarm"]
    assert [x.name for x in r.resellers] == ["res", "res2"]
    assert r[3].name == "swarm"
    assert r.provider(2) is r[2]


def test_a_provider_serves_its_listed_regions_or_else_where_its_fleet_is() -> None:
    """cloud lists (na, eu) -> (0, 1); spec lists none and has GPUs in apac, eu, apac -> sorted (1, 2)."""
    r = roster()
    np.testing.assert_array_equal(r.provider(0).regions, [0, 1])
    np.testing.assert_array_equal(r.provider(2).regions, [1, 2])
    np.testing.assert_array_equal(r.provider(3).regions, [0])


def test_a_reseller_is_not_a_provider() -> None:
    with pytest.raises(ValueError, match=r"holder 1 \(res\) is not a provider"):
        roster().provider(1)


def test_a_firm_must_be_created_with_the_next_id() -> None:
    r = roster()
    stray = HardwareReseller(mesa.Model(rng=np.random.default_rng(0)), name="stray", holder_id=7,
                             config=ResellerConfig(name="stray"), n_generations=3)
    with pytest.raises(ValueError, match="stray: holder id 7, expected 5"):
        r.add(stray)
    assert len(r) == 5


def test_names_view_sees_firms_added_later() -> None:
    r = roster()
    names = r.names_view
    assert (len(names), names[4]) == (5, "res2")
    r.new_reseller(mesa.Model(rng=np.random.default_rng(0)), ResellerConfig(name="late"), "late", 3)
    assert (len(names), names[5]) == (6, "late")


# ---------------------------------------------------------------------------------------------------------
# arrays over holders
# ---------------------------------------------------------------------------------------------------------


def test_holder_technology() -> None:
    """Providers' parameters from their configs; resellers install nothing (efficiency 1, factor 1, pue 1, no opex,
    cost basis 1, nothing fixed). swarm's capacity factor is 1 - 0.2. spec has the schema's defaults (1, pue 1.3,
    opex 300, cost basis 0.7)."""
    tech = roster().holder_technology()
    np.testing.assert_array_equal(tech.efficiency, [0.5, 1.0, 1.0, 1.0, 1.0])
    np.testing.assert_array_equal(tech.capacity_factor, [1.0, 1.0, 1.0, 0.8, 1.0])
    np.testing.assert_array_equal(tech.pue, [1.2, 1.0, 1.3, 1.3, 1.0])
    np.testing.assert_array_equal(tech.opex_per_gpu, [250.0, 0.0, 300.0, 300.0, 0.0])
    np.testing.assert_array_equal(tech.cost_basis_utilization, [0.8, 1.0, 0.7, 0.7, 1.0])
    np.testing.assert_array_equal(tech.fixed_unit_cost, [NAN, NAN, NAN, 0.7, NAN])
    np.testing.assert_array_equal(tech.fixed_capacity, [NAN, NAN, NAN, 50.0, NAN])
    np.testing.assert_array_equal(tech.installs, [True, False, True, True, False])


def test_an_exited_provider_installs_nothing_and_its_fixed_capacity_is_gone() -> None:
    r = roster()
    r.provider(3).active = False
    tech = r.holder_technology()
    np.testing.assert_array_equal(tech.installs, [True, False, True, False, False])
    np.testing.assert_array_equal(tech.fixed_capacity, [NAN, NAN, NAN, 0.0, NAN])


def test_kind_ids() -> None:
    """PROVIDER_KIND_NAMES = (hyperscaler, specialized, decentralized); resellers -1; with ``active_only`` an
    exited provider is -1 too."""
    r = roster()
    np.testing.assert_array_equal(r.kind_ids(), [0, -1, 1, 2, -1])
    r.provider(2).active = False
    np.testing.assert_array_equal(r.kind_ids(), [0, -1, 1, 2, -1])
    np.testing.assert_array_equal(r.kind_ids(active_only=True), [0, -1, -1, 2, -1])


def test_owner_ids_follow_acquisitions() -> None:
    r = roster()
    np.testing.assert_array_equal(r.owner_ids(), [0, 1, 2, 3, 4])
    r.provider(3).consolidate_into(r.provider(2))
    r.provider(2).consolidate_into(r.provider(0))
    np.testing.assert_array_equal(r.owner_ids(), [0, 1, 0, 0, 4])


def test_balance_sheets() -> None:
    """Books: active providers. Cash 1000, -1, 30; rates 0.12, 0.2, 0.1 (default). After spec exits it keeps no
    books and is no independent balance sheet; after swarm joins cloud, swarm is not independent either."""
    r = roster()
    books, cash, rate, independent = r.balance_sheets()
    np.testing.assert_array_equal(books, [True, False, True, True, False])
    np.testing.assert_array_equal(cash, [1000.0, 0.0, -1.0, 30.0, 0.0])
    np.testing.assert_array_equal(rate, [0.12, 0.0, 0.2, 0.1, 0.0])
    np.testing.assert_array_equal(independent, [True, False, True, True, False])
    r.provider(2).active = False
    r.provider(3).consolidate_into(r.provider(0))
    books, cash, _, independent = r.balance_sheets()
    np.testing.assert_array_equal(books, [True, False, False, True, False])
    np.testing.assert_array_equal(independent, [True, False, False, False, False])
    assert cash[0] == 1030.0


def test_snapshot() -> None:
    """Frontier 2, open-weight 1.5: qualities 2 x 0.9 = 1.8, 1.5, 1.1. Mean prices over regions: cloud (1, 3) -> 2,
    spec (4, 6) -> 5, swarm 0.5. After spec joins cloud its owner is 'cloud' and it reads cloud's cash 999."""
    r = roster()
    r.provider(0).price = np.array([1.0, 3.0])
    r.provider(2).price = np.array([4.0, 6.0])
    r.provider(3).price = np.array([0.5])
    r.provider(2).consolidate_into(r.provider(0))
    r.provider(3).active = False
    snap = r.snapshot(2.0, 1.5)
    np.testing.assert_array_equal(snap.holder, [0, 2, 3])
    assert list(snap.name) == ["cloud", "spec", "swarm"]
    assert list(snap.kind) == ["hyperscaler", "specialized", "decentralized"]
    assert list(snap.owner_name) == ["cloud", "cloud", "swarm"]
    np.testing.assert_array_equal(snap.active, [True, True, False])
    np.testing.assert_array_equal(snap.cash, [999.0, 999.0, 30.0])
    np.testing.assert_allclose(snap.quality, [1.8, 1.5, 1.1], rtol=1e-15)
    np.testing.assert_array_equal(snap.mean_price, [2.0, 5.0, 0.5])


def test_contract_capacity_of_active_providers_in_their_regions() -> None:
    """Rows: cloud, spec (swarm exited). Fleet capacity per region: cloud (10, 20, 99) -> its regions na, eu;
    spec (99, 0, inf) -> eu 0, apac unlimited -> 1."""
    r = roster()
    r.provider(3).active = False
    capacity = np.zeros((5, 3))
    capacity[0] = [10.0, 20.0, 99.0]
    capacity[2] = [99.0, 0.0, np.inf]
    got, ids = r.contract_capacity(fleet(capacity=capacity), 3)
    np.testing.assert_array_equal(got, [[10.0, 20.0, 0.0], [0.0, 0.0, 1.0]])
    np.testing.assert_array_equal(ids, [0, 2])


def test_corporate_state() -> None:
    """Resellers are inactive with no parent and no deal; swarm has a fixed capacity; spec is cloud's subsidiary,
    distressed 2 months, and shows its balance sheet: cloud's cash 1000 - 1 = 999 and credit limit 500; cloud closed a
    deal at step 4."""
    r = roster()
    spec, cloud = r.provider(2), r.provider(0)
    spec.consolidate_into(cloud)
    spec.months_distressed = 2
    r.provider(3).months_idle = 1
    cloud.last_deal_step = 4
    state = r.corporate_state()
    np.testing.assert_array_equal(state.active, [True, False, True, True, False])
    np.testing.assert_array_equal(state.parent, [-1, -1, 0, -1, -1])
    np.testing.assert_array_equal(state.cash, [999.0, 0.0, 999.0, 30.0, 0.0])
    np.testing.assert_array_equal(state.credit_limit, [500.0, 0.0, 500.0, 0.0, 0.0])
    np.testing.assert_array_equal(state.months_distressed, [0, 0, 2, 0, 0])
    np.testing.assert_array_equal(state.months_idle, [0, 0, 0, 1, 0])
    np.testing.assert_array_equal(state.fixed_capacity, [False, False, False, True, False])
    np.testing.assert_array_equal(state.last_deal_step, [4, -1, -1, -1, -1])


@pytest.mark.parametrize(("step", "expected"), [(9, [3]), (10, [0, 3])])
def test_acquirers_are_independent_active_providers_of_the_kinds_out_of_cooldown(step: int,
                                                                                 expected: list[int]) -> None:
    """Kinds hyperscaler and decentralized: cloud (0) and swarm (3); spec is of another kind. cloud dealt at step
    4 with a 6-month cooldown: still cooling at step 9 (5 < 6 months), free at step 10."""
    r = roster()
    r.provider(0).last_deal_step = 4
    assert list(r.acquirers(r.corporate_state(), ["hyperscaler", "decentralized"], step, 6)) == expected


def test_subsidiaries_and_exited_providers_do_not_acquire() -> None:
    r = roster()
    r.provider(3).consolidate_into(r.provider(2))
    assert list(r.acquirers(r.corporate_state(), ["hyperscaler", "decentralized", "specialized"], 0, 6)) == [0, 2]
    r.provider(0).active = False
    assert list(r.acquirers(r.corporate_state(), ["hyperscaler", "decentralized", "specialized"], 0, 6)) == [2]


def test_close_frees_subsidiaries_and_leaves_model_agents() -> None:
    """swarm belongs to spec, which belongs to cloud. Closing spec: spec is inactive and out of model.agents but
    still in the roster; swarm becomes independent (its own cash, 0 since it joined); cloud is untouched."""
    r = roster()
    cloud, spec, swarm = r.provider(0), r.provider(2), r.provider(3)
    swarm.consolidate_into(spec)
    spec.consolidate_into(cloud)
    assert r.parent_ids() == [None, None, 0, 2, None]
    model = spec.model
    r.close(spec)
    assert spec.active is False
    assert spec not in model.agents and cloud in model.agents
    assert r.provider(2) is spec
    assert r.parent_ids() == [None, None, 0, None, None]
    assert (swarm.owner_id, swarm.cash) == (3, 0.0)
    assert cloud.active is True


def test_provider_and_reseller_ids() -> None:
    r = roster()
    np.testing.assert_array_equal(r.provider_ids, [0, 2, 3])
    np.testing.assert_array_equal(r.reseller_ids, [1, 4])
    assert r.parent_ids() == [None] * 5


def test_of_kinds() -> None:
    r = roster()
    np.testing.assert_array_equal(r.of_kinds(["specialized", "decentralized"]), [False, False, True, True, False])
    np.testing.assert_array_equal(r.of_kinds(["hyperscaler"]), [True, False, False, False, False])
    r.provider(3).active = False
    np.testing.assert_array_equal(r.of_kinds(["specialized", "decentralized"]), [False, False, True, False, False])


# ---------------------------------------------------------------------------------------------------------
# hardware decisions gathered
# ---------------------------------------------------------------------------------------------------------


def test_retirements_on_a_release() -> None:
    """Release steps (-10, -30, 5): generation 1 is the oldest. cloud holds generations 0 and 1 -> retires 1; spec
    also holds two but only hyperscalers retire. No release, or an exited cloud: nothing."""
    r = roster()
    held = np.zeros((5, 3), dtype=np.int64)
    held[0] = [4, 2, 0]
    held[2] = [1, 1, 0]
    release = np.array([-10, -30, 5])
    assert r.retirements(held, [2], release) == [(0, 1)]
    assert r.retirements(held, [], release) == []
    r.provider(0).active = False
    assert r.retirements(held, [2], release) == []


def test_retirements_break_release_ties_by_generation_id() -> None:
    r = roster()
    held = np.zeros((5, 3), dtype=np.int64)
    held[0] = [0, 3, 3]
    assert r.retirements(held, [0], np.array([5, -10, -10])) == [(0, 1)]


def test_aged_gpus_of_providers_with_an_upgrade_cycle() -> None:
    """cloud retires GPUs older than 12 months; at step 20 the cut is step 8. Its lots built at -20 (G0) and 3 (G1)
    are older; built at 8 (G1) and 10 (G2) are not. spec has no upgrade cycle; holder 2's old lot stays."""
    ledger = GpuLedger(3)
    for holder, gen, built in [(0, 0, -20), (0, 1, 3), (0, 1, 8), (0, 2, 10), (2, 0, -20)]:
        ledger.add(holder=holder, generation=gen, region=0, count=5, built_step=built, lifetime=100, step=built,
                   basis=1000.0)
    r = roster()
    assert r.aged_gpus(ledger, 20) == [(0, 0, 8), (0, 1, 8)]
    assert r.aged_gpus(ledger, 14) == [(0, 0, 2)]
    r.provider(0).active = False
    assert r.aged_gpus(ledger, 20) == []


def test_orders_carry_cash_plus_credit_as_priority() -> None:
    """Priority = cash + credit: cloud 1000 + 500 = 1500; swarm 30 + 0; once swarm joins cloud, cloud's
    (1000 + 30) + 500."""
    r = roster()
    cloud, swarm = r.provider(0), r.provider(3)
    order_cloud = FleetOrder(buy_new=np.array([3.0, 0.0]), buy_used=np.array([1.0, 2.0]), sell=np.zeros(2),
                             used_generation=1)
    order_swarm = FleetOrder(buy_new=np.array([4.0]), buy_used=np.array([0.0]), sell=np.zeros(1))
    used = r.used_orders([(cloud, order_cloud), (swarm, order_swarm)])
    assert [(u.buyer, u.priority, u.generation, u.pue) for u in used] == [(0, 1500.0, 1, 1.2), (3, 30.0, -1, 1.3)]
    np.testing.assert_array_equal(used[0].regions, [0, 1])
    np.testing.assert_array_equal(used[0].units, [1.0, 2.0])
    new = r.new_orders([(cloud, order_cloud), (swarm, order_swarm)])
    assert [(n.buyer, n.priority, n.pue) for n in new] == [(0, 1500.0, 1.2), (3, 30.0, 1.3)]
    np.testing.assert_array_equal(new[1].units, [4.0])
    swarm.consolidate_into(cloud)
    assert r.new_orders([(swarm, order_swarm)])[0].priority == 1530.0


# ---------------------------------------------------------------------------------------------------------
# offers and views
# ---------------------------------------------------------------------------------------------------------


def test_offer_book_from_posted_prices() -> None:
    """cloud posts in na only (eu masked), spec in apac only (its second region), swarm in na.
    Quality at frontier 2, open 1.5: 1.8, 1.5, 1.1. swarm's unverified fraction is 0 (verified)."""
    r = roster()
    cloud, spec, swarm = r.provider(0), r.provider(2), r.provider(3)
    cloud.price, spec.price, swarm.price = np.array([1.0, 3.0]), np.array([4.0, 6.0]), np.array([0.5])
    swarm.consolidate_into(cloud)
    unit_cost = np.arange(15.0).reshape(5, 3)
    fe = fleet(unit_cost=unit_cost, capacity=unit_cost + 100.0, variable_cost=unit_cost / 10.0)
    book = r.offer_book([(cloud, np.array([True, False])), (spec, np.array([False, True])),
                         (swarm, np.array([True]))], fe, 2.0, 1.5)
    assert len(book) == 3
    np.testing.assert_array_equal(book.holder, [0, 2, 3])
    np.testing.assert_array_equal(book.region, [0, 2, 0])
    np.testing.assert_array_equal(book.kind, [0, 1, 2])
    np.testing.assert_array_equal(book.owner, [0, 2, 0])
    np.testing.assert_allclose(book.quality, [1.8, 1.5, 1.1], rtol=1e-15)
    np.testing.assert_array_equal(book.price, [1.0, 6.0, 0.5])
    np.testing.assert_array_equal(book.unit_cost, [0.0, 8.0, 9.0])
    np.testing.assert_array_equal(book.capacity, [100.0, 108.0, 109.0])
    np.testing.assert_allclose(book.variable_cost, [0.0, 0.8, 0.9], rtol=1e-15)
    np.testing.assert_array_equal(book.privacy_risk, [0.3, 0.0, 0.3])  # swarm adopted cloud's data practices
    np.testing.assert_array_equal(book.lock_in, [0.5, 0.0, 0.0])
    np.testing.assert_array_equal(book.unverified, [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(book.reliability, [0.95, 0.99, 0.9])


def test_an_empty_offer_book() -> None:
    book = roster().offer_book([], fleet(), 1.0, 1.0)
    assert len(book) == 0 and book.price.shape == (0,)


GENERATIONS = GenerationTable(
    names=("G0", "G1", "G2"), release_step=np.array([-24, -6, 5]),
    list_price_usd=np.array([10000.0, 30000.0, 40000.0]), throughput_tokens_per_s=np.array([500.0, 3000.0, 6000.0]),
    power_kw=np.ones(3), lifetime_months=np.array([48, 60, 60]), vendor_supply_per_month=np.full(3, np.inf),
)


def test_reseller_quotes_per_reseller_and_nan_before_release() -> None:
    """Step 0, newest G1; the reference buyer (defaults: opex $200, here free power) runs any GPU for $200 a month.
    Par rates (market.hardware.par_rate): G1 30,000/60 = 500; G0 500/3,000 x (500 + 200) - 200 < 0 -> 0, so G0 is
    quoted at its $300 scrap value. res holds 300 G1 (life unknown: 54 months, built at release), no orders yet:
    level sqrt(100 / (300/6 + 100)), quote 500 x level x 54 = 22,045.4; res2 holds nothing: 500 x 54 = 27,000.
    G2 is released at step 5: NaN."""
    r = roster()
    held = np.zeros((5, 3), dtype=np.int64)
    held[1] = [0, 300, 0]
    held[0] = [999, 999, 0]  # a provider's GPUs are no reseller's stock
    quotes = r.reseller_quotes(GENERATIONS, 0, held)
    level = np.sqrt(100 / 150)
    np.testing.assert_allclose(quotes, [[300.0, 500 * level * 54, NAN], [300.0, 27000.0, NAN]], rtol=1e-14)


def test_reseller_quotes_without_resellers_or_generations() -> None:
    r = Roster()
    r.new_provider(mesa.Model(rng=np.random.default_rng(0)), SWARM, "swarm", REGIONS, AcquisitionConfig(), SEEDS)
    quotes = r.reseller_quotes(GENERATIONS, 0, np.zeros((1, 3), dtype=np.int64))
    assert quotes.shape == (0, 3)
    empty = GenerationTable(names=(), release_step=np.zeros(0, dtype=np.int64), list_price_usd=np.zeros(0),
                            throughput_tokens_per_s=np.zeros(0), power_kw=np.zeros(0),
                            lifetime_months=np.zeros(0, dtype=np.int64), vendor_supply_per_month=np.zeros(0))
    assert roster().reseller_quotes(empty, 0, np.zeros((5, 0), dtype=np.int64)).shape == (2, 0)


def test_reseller_desk() -> None:
    """Holder ids (1, 4), margins (0.1, 0.3): bids for a lot of the quoted life are 90% and 70% of the quotes;
    the lot prices come from each reseller's last quote (rates, holding months, scrap values)."""
    r = roster()
    quotes = r.reseller_quotes(GENERATIONS, 0, np.zeros((5, 3), dtype=np.int64))
    desk = r.reseller_desk(quotes)
    np.testing.assert_array_equal(desk.holder_ids, [1, 4])
    np.testing.assert_array_equal(desk.margin, [0.1, 0.3])
    assert desk.quotes is quotes
    np.testing.assert_allclose(desk.bids, quotes * np.array([[0.9], [0.7]]), rtol=1e-15)
    assert desk.rates is not None and desk.scrap is not None and desk.holding is not None
    np.testing.assert_allclose(desk.rates[:, 1], [500.0, 500.0], rtol=1e-15)  # G1 at par, see the test above
    np.testing.assert_allclose(desk.scrap, [[300.0, 900.0, 1200.0]] * 2, rtol=1e-15)
    np.testing.assert_array_equal(desk.holding, np.zeros((2, 3)))
    bid = desk.bid_price(1, 1)
    assert bid is not None and bid.rate == pytest.approx(0.7 * 500.0, rel=1e-15)


def settlement(revenue: list[float], cash_cost: list[float]) -> Settlement:
    n = len(revenue)
    return Settlement(revenue=np.array(revenue), served=np.zeros(n), depreciation=np.zeros(n),
                      cash_cost=np.array(cash_cost), interest=np.zeros(n), profit=np.zeros(n),
                      served_units=np.zeros(n))


def test_acquisition_view() -> None:
    """Revenue (100, 0, 20, 80, 0) -> market total 200; candidates spec and swarm: shares 0.1 and 0.4; spec's cash
    -1 < 0 is distress; annual gross profit 12 x (20 - 5) = 180 and 12 x (80 - 90) = -120; book values from the
    per-holder array. The acquirer cloud sees its cash 1000 and credit 500."""
    r = roster()
    view = r.acquisition_view(r.provider(0), np.array([2, 3]), settlement([100.0, 0.0, 20.0, 80.0, 0.0],
                                                                           [50.0, 0.0, 5.0, 90.0, 0.0]),
                              np.array([0.0, 0.0, 7.0, 11.0, 0.0]))
    assert (view.acquirer, view.cash, view.credit_limit) == (0, 1000.0, 500.0)
    np.testing.assert_array_equal(view.candidate, [2, 3])
    np.testing.assert_allclose(view.revenue_share, [0.1, 0.4], rtol=1e-15)
    np.testing.assert_array_equal(view.distressed, [True, False])
    np.testing.assert_array_equal(view.annual_gross_profit, [180.0, -120.0])
    np.testing.assert_array_equal(view.fleet_book_value, [7.0, 11.0])


def test_acquisition_view_without_revenue_or_candidates() -> None:
    """No revenue in the market: every share is 0. Settlement rows beyond the roster (padded) are ignored."""
    r = roster()
    view = r.acquisition_view(r.provider(0), np.array([3]), settlement([0.0] * 6, [0.0] * 6), np.zeros(5))
    np.testing.assert_array_equal(view.revenue_share, [0.0])
    none = r.acquisition_view(r.provider(0), np.zeros(0, dtype=np.int64), settlement([1.0] * 5, [0.0] * 5),
                              np.zeros(5))
    for column in (none.revenue_share, none.annual_gross_profit, none.fleet_book_value):
        assert column.shape == (0,)
    assert none.distressed.shape == (0,)


# ---------------------------------------------------------------------------------------------------------
# a real model's roster
# ---------------------------------------------------------------------------------------------------------


def test_tiny_fleet_roster_and_contract_capacity(tiny_fleet_config: ScenarioConfig) -> None:
    """The tiny scenario creates cloud, specialist_1, specialist_2, swarm, then reseller_1, reseller_2.
    Tokens per GPU-month: A100 400 x 2.6298 = 1,051.92 Mtok, H100 1,200 x 2.6298 = 3,155.76 Mtok. Capacity (na, eu):
    cloud (efficiency 0.5) (300 x 1,051.92 + 600 x 3,155.76) x 0.5 = 1,104,516 and 200 x 3,155.76 x 0.5 = 315,576;
    each specialist (1.5) 150 x 3,155.76 x 1.5 = 710,046 in na and nothing in eu; swarm (na only) 200 x 1,051.92."""
    model = InferenceMarket(tiny_fleet_config, seed=0)
    r = model.roster
    assert r.names == ["cloud", "specialist_1", "specialist_2", "swarm", "reseller_1", "reseller_2"]
    np.testing.assert_array_equal(r.kind_ids(), [0, 1, 1, 2, -1, -1])
    capacity, ids = r.contract_capacity(model.fleet, model.n_regions)
    np.testing.assert_array_equal(ids, [0, 1, 2, 3])
    np.testing.assert_allclose(capacity, [[1104516.0, 315576.0], [710046.0, 0.0], [710046.0, 0.0], [210384.0, 0.0]],
                               rtol=1e-12)
