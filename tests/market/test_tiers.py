"""Tier tables and the tier-level measures of a month (market.tiers), and a run of the three-tier example."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from market.config.files import load_scenario
from market.model import InferenceMarket
from market.tiers import TierTable, latency_premium, weighted_median

EXAMPLE = Path(__file__).resolve().parents[2] / "experiments" / "configs" / "tiers.toml"


def test_weighted_median_by_hand() -> None:
    # Sorted values 100, 200, 300 with weights 1, 1, 2: cumulative 1, 2, 4 reaches half of 4 at 200.
    assert weighted_median(np.array([300.0, 100.0, 200.0]), np.array([2.0, 1.0, 1.0])) == 200.0


def test_latency_premium_by_hand() -> None:
    """Tier 0: latencies (100, 200, 400) with tokens (1, 1, 2): weighted median 200, so only the first offer is
    fast; its log price ln 2 minus the slow offers' token-weighted mean (1 ln 1 + 2 ln 1) / 3 = 0 gives ln 2.
    Tier 1: one offer, no premium. Tier 2: (50, 90) with tokens (3, 1): median 50, no offer below it, none.
    The month's premium is tier 0's: ln 2."""
    tier = np.array([0, 0, 0, 1, 2, 2])
    price = np.array([2.0, 1.0, 1.0, 5.0, 1.0, 3.0])
    latency = np.array([100.0, 200.0, 400.0, 10.0, 50.0, 90.0])
    served = np.array([1.0, 1.0, 2.0, 7.0, 3.0, 1.0])
    assert latency_premium(tier, price, latency, served, 3) == pytest.approx(math.log(2.0), rel=1e-12)


def test_latency_premium_averages_tiers_by_tokens() -> None:
    """Latencies (1, 5, 9) with equal tokens in each tier: median 5, the first offer fast. Tier 0 at prices
    (2, 1, 1) has premium ln 2 on 3 tokens, tier 1 at (1, 2, 2) has -ln 2 on 9 tokens: (3 - 9) ln 2 / 12."""
    tier = np.array([0, 0, 0, 1, 1, 1])
    price = np.array([2.0, 1.0, 1.0, 1.0, 2.0, 2.0])
    latency = np.array([1.0, 5.0, 9.0, 1.0, 5.0, 9.0])
    served = np.array([1.0, 1.0, 1.0, 3.0, 3.0, 3.0])
    assert latency_premium(tier, price, latency, served, 2) == pytest.approx(-math.log(2.0) / 2.0, rel=1e-12)
    assert math.isnan(latency_premium(np.array([0]), np.array([1.0]), np.array([5.0]), np.array([1.0]), 1))


def test_tier_table_of_the_example_scenario() -> None:
    table = TierTable.from_config(load_scenario(EXAMPLE))
    assert table.names == ("frontier", "mid", "small") and table.declared
    np.testing.assert_allclose(table.capacity_weight, [1.0, 0.25, 1.0 / 15.0])
    # At zero load an offer's serving latency is its tier's base; at utilization 0.5, twice that (ca = cs = 1).
    np.testing.assert_allclose(table.latency_ms(np.array([0, 2]), np.array([0.0, 0.5])), [600.0, 240.0])


@pytest.fixture(scope="module")
def example_model() -> InferenceMarket:
    settings = ["simulation.steps=4"]
    for segment in ("performance_first", "control_first", "cost_first"):
        settings += [f"segments.{segment}.n_agents=20"]
    model = InferenceMarket(load_scenario(EXAMPLE, settings), seed=3)
    model.run()
    return model


def test_the_example_posts_every_tier_of_every_provider_and_shares_pools(example_model: InferenceMarket) -> None:
    offers = example_model.offers
    for p in example_model.providers:
        mine = offers.holder == p.holder_id
        if mine.any():
            regions = np.unique(offers.region[mine])
            served = p.config.tiers or ["frontier", "mid", "small"]  # default: every declared tier
            assert mine.sum() == len(served) * len(regions)  # each of its tiers in every region it serves
            assert {int(t) for t in offers.tier[mine]} == {("frontier", "mid", "small").index(t) for t in served}
    # One pool per (provider, region), its capacity repeated on its offers.
    pools = {(int(h), int(r)) for h, r in zip(offers.holder, offers.region, strict=True)}
    assert offers.n_pools == len(pools)
    # Latency reflects last month's utilization: at least the tier's base, and above it somewhere.
    base = np.array([600.0, 300.0, 120.0])[offers.tier]
    assert np.all(offers.latency_ms >= base) and np.any(offers.latency_ms > base)


def test_the_example_records_tier_columns(example_model: InferenceMarket) -> None:
    frames = example_model.recorder.frames()
    model, offers = frames["model"], frames["offers"]
    tokens = model[["tokens_frontier", "tokens_mid", "tokens_small"]].sum(axis=1)
    np.testing.assert_allclose(tokens, model["tokens_served"], rtol=1e-12)
    spend = model[["spend_frontier", "spend_mid", "spend_small"]].sum(axis=1)
    np.testing.assert_allclose(spend, model["total_spend"], rtol=1e-12)
    assert (model.loc[0, ["price_index_frontier", "price_index_mid", "price_index_small"]] == 1.0).all()
    assert list(model.columns) == list(example_model.recorder.columns)
    measures = ("tokens", "spend", "price_index", "quality_adjusted_price_index")
    assert list(model.columns)[-13:] == [*[f"{m}_{t}" for t in ("frontier", "mid", "small") for m in measures],
                                         "latency_premium"]
    assert list(offers.columns) == ["step", "provider", "region", "tier", "price", "latency_ms", "served",
                                    "capacity_weight"]
    last = offers[offers["step"] == 3]
    np.testing.assert_allclose(last["served"].sum(), model.loc[3, "tokens_served"], rtol=1e-12)
    assert set(last["tier"]) == {"frontier", "mid", "small"}


def test_no_switching_cost_on_the_main_providers_other_tiers() -> None:
    """Offers 0-2 are one pool (a provider's three tiers in a region), offer 3 another. Buyer 0's main offer is
    0: the switching cost (0.5) charged on offers 1 and 2 is added back, not on 3; buyer 1 has no main provider;
    buyer 2's main offer is 3, the last: nothing to add back."""
    from agents.enterprise import waive_switching_cost_within_pool

    utility = np.zeros((3, 4))
    waive_switching_cost_within_pool(utility, np.array([0, -1, 3]), np.array([0, 0, 0, 1]), np.array([0.5, 0.7, 0.9]))
    np.testing.assert_array_equal(utility, [[0.0, 0.5, 0.5, 0.0], [0.0] * 4, [0.0] * 4])


def test_investment_reads_demand_in_capacity_units(example_model: InferenceMarket) -> None:
    """A provider's demand per region is sum over its tiers of w_t max(D_o, served_o) (capacity units)."""
    m = example_model
    offers, c = m.offers, m.clearing
    p = next(p for p in m.providers if p.active and p.config.capacity_mtok_per_month is None
             and (offers.holder == p.holder_id).any())
    n_gen = len(m.generations)
    view = p.investment_view(step=m.step_index, fleet=m.fleet, offers=offers, clearing=c, generations=m.generations,
                             algorithmic_efficiency=m.algorithmic_efficiency, used_price=np.full(n_gen, np.nan),
                             used_available=np.zeros(n_gen, dtype=np.int64))
    assert view is not None
    for j, r in enumerate(p.regions):
        mine = (offers.holder == p.holder_id) & (offers.region == r)
        expected = float((np.maximum(c.offer_demand[mine], c.served[mine]) * offers.capacity_weight[mine]).sum())
        assert view.demand[j] == pytest.approx(expected, rel=1e-12)
    assert np.any(offers.capacity_weight[offers.holder == p.holder_id] < 1.0)
