"""Corporate mechanics (market/corporate.py and the provider's balance sheet): merger control under the US
merger guidelines, deal terms, the free-entry signal, the data flywheel and consolidation of treasuries.

Expected HHIs are worked out by hand with HHI = sum of squared shares in percent and the merger change
2 * s_a * s_b (reference data, "HHI (2023 US merger guidelines)" and "(2010 guidelines)")."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from agents.provider import Provider
from market.config import AntitrustConfig
from market.config.files import scenario_from_dict
from market.corporate import (
    MergerReview,
    acquisition_terms,
    enterprise_value,
    entry_is_attractive,
    flywheel_gain,
    review_merger,
    standalone_value,
)
from market.model import InferenceMarket

HHI_2023 = AntitrustConfig(policy="hhi_2023").thresholds
HHI_2010 = AntitrustConfig(policy="hhi_2010").thresholds


def review_shares(shares: list[float], acquirer: int, target: int, thresholds: tuple[float, float] | None,
                  owner: list[int] | None = None) -> MergerReview:
    """Review a merger of firm ``acquirer`` with firm ``target`` in a market with these revenue shares (%)."""
    revenue = np.array(shares, dtype=np.float64) * 1e6  # dollars: only the shares matter
    owners = np.arange(len(shares)) if owner is None else np.array(owner)
    return review_merger(revenue, owners, acquirer, target, thresholds)


# ---------------------------------------------------------------------------------------------------------
# merger control
# ---------------------------------------------------------------------------------------------------------


def test_policy_thresholds() -> None:
    """2023 guidelines: 1,800 and 100; 2010 guidelines: 2,500 and 200; custom: the configured pair; none: no test."""
    assert HHI_2023 == (1800.0, 100.0)
    assert HHI_2010 == (2500.0, 200.0)
    assert AntitrustConfig(policy="none").thresholds is None
    custom = AntitrustConfig(policy="custom", post_merger_hhi=1234.0, hhi_delta=56.0)
    assert custom.thresholds == (1234.0, 56.0)
    # The custom pair is ignored by the named policies.
    assert AntitrustConfig(policy="hhi_2023", post_merger_hhi=1.0, hhi_delta=1.0).thresholds == (1800.0, 100.0)


def test_2023_rule_blocks_the_leader_buying_the_smallest_of_five() -> None:
    """Shares 30/25/20/15/10, the 30 buys the 10: pre = 900+625+400+225+100 = 2,250;
    post = 40^2+625+400+225 = 2,850; change = 2*30*10 = 600 > 100 and 2,850 > 1,800: blocked."""
    review = review_shares([30, 25, 20, 15, 10], acquirer=0, target=4, thresholds=HHI_2023)
    assert review.pre_hhi == pytest.approx(2250.0, rel=1e-12)
    assert review.post_hhi == pytest.approx(2850.0, rel=1e-12)
    assert review.delta == pytest.approx(600.0, rel=1e-12)
    assert review.blocked


def test_2023_rule_allows_two_small_firms_in_an_unconcentrated_market() -> None:
    """Shares 5 and 3 beside eight firms of 11.5: pre = 25+9+8*132.25 = 1,092; post = 64+1,058 = 1,122;
    change = 2*5*3 = 30: allowed (neither 1,800 nor 100 is exceeded)."""
    review = review_shares([5, 3] + [11.5] * 8, acquirer=0, target=1, thresholds=HHI_2023)
    assert review.pre_hhi == pytest.approx(1092.0, rel=1e-12)
    assert review.post_hhi == pytest.approx(1122.0, rel=1e-12)
    assert review.delta == pytest.approx(30.0, rel=1e-12)
    assert not review.blocked


def test_the_thresholds_are_strict() -> None:
    """Shares 10, 10 (merging), 30 and five of 10: pre = 100+100+900+500 = 1,600; post = 400+1,400 = 1,800 and
    change 200. A post-merger HHI of exactly 1,800 is not 'above 1,800', so the 2023 rule allows it; a custom
    rule at 1,799 blocks it; a custom change threshold of exactly 200 allows it again."""
    shares = [10, 10, 30, 10, 10, 10, 10, 10]
    review = review_shares(shares, acquirer=0, target=1, thresholds=HHI_2023)
    assert (review.pre_hhi, review.post_hhi) == (1600.0, 1800.0)
    assert not review.blocked
    assert review_shares(shares, 0, 1, (1799.0, 100.0)).blocked
    assert not review_shares(shares, 0, 1, (1799.0, 200.0)).blocked


@pytest.mark.parametrize(
    ("shares", "acquirer", "target", "pre", "post", "blocked_2023", "blocked_2010"),
    [
        # 30 buys 10 of 30/25/20/15/10: 2,250 -> 2,850 (+600): above both rules.
        ([30, 25, 20, 15, 10], 0, 4, 2250.0, 2850.0, True, True),
        # 20 buys 10 of 20/20/20/20/10/10: 1,800 -> 2,200 (+400): above 1,800 but below 2,500.
        ([20, 20, 20, 20, 10, 10], 0, 4, 1800.0, 2200.0, True, False),
        # 40 buys 2 of 40/30/25/3/2: 3,138 -> 3,298 (+160): above 100 but not above 200.
        ([40, 30, 25, 3, 2], 0, 4, 3138.0, 3298.0, True, False),
        # 40 buys 3 of 40/30/25/3/2: 3,138 -> 3,378 (+240): above both.
        ([40, 30, 25, 3, 2], 0, 3, 3138.0, 3378.0, True, True),
        # 5 buys 3 beside eight of 11.5: 1,092 -> 1,122 (+30): below both.
        ([5, 3] + [11.5] * 8, 0, 1, 1092.0, 1122.0, False, False),
    ],
)
def test_2023_and_2010_rules_on_hand_computed_markets(
    shares: list[float], acquirer: int, target: int, pre: float, post: float, blocked_2023: bool, blocked_2010: bool
) -> None:
    r23 = review_shares(shares, acquirer, target, HHI_2023)
    r10 = review_shares(shares, acquirer, target, HHI_2010)
    for review in (r23, r10):
        assert review.pre_hhi == pytest.approx(pre, rel=1e-12)
        assert review.post_hhi == pytest.approx(post, rel=1e-12)
        assert review.delta == pytest.approx(2.0 * shares[acquirer] * shares[target], rel=1e-12)
    assert r23.blocked is blocked_2023
    assert r10.blocked is blocked_2010


def test_no_merger_control_allows_a_merger_to_monopoly() -> None:
    """50/50 duopoly merging: 5,000 -> 10,000, allowed with policy 'none'."""
    review = review_shares([50, 50], 0, 1, None)
    assert (review.pre_hhi, review.post_hhi) == (5000.0, 10000.0)
    assert not review.blocked


def test_review_counts_offers_by_ultimate_owner() -> None:
    """Five offers with revenue 20, 10, 30, 25, 15 owned by groups 0, 0, 2, 3, 3 form firms of 30, 30 and 40.
    Group 3 buying group 2: pre = 900+900+1,600 = 3,400; post = 900+4,900 = 5,800; change 2*30*40 = 2,400."""
    review = review_shares([20, 10, 30, 25, 15], acquirer=3, target=2, thresholds=HHI_2023, owner=[0, 0, 2, 3, 3])
    assert review.pre_hhi == pytest.approx(3400.0, rel=1e-12)
    assert review.post_hhi == pytest.approx(5800.0, rel=1e-12)
    assert review.blocked
    # A merger within one group changes nothing.
    within = review_shares([20, 10, 30, 25, 15], acquirer=0, target=0, thresholds=(0.0, -1.0), owner=[0, 0, 2, 3, 3])
    assert within.delta == 0.0


def test_review_of_a_market_without_revenue() -> None:
    """No revenue: HHI 0 before and after, nothing to block even at zero thresholds."""
    review = review_merger(np.zeros(3), np.arange(3), 0, 1, (0.0, 0.0))
    assert (review.pre_hhi, review.post_hhi, review.blocked) == (0.0, 0.0, False)


# ---------------------------------------------------------------------------------------------------------
# deal terms
# ---------------------------------------------------------------------------------------------------------


def test_enterprise_value_is_the_larger_of_earnings_and_fleet_value() -> None:
    """Multiple 3: gross profit 2e5 a year is worth 6e5, below a fleet of 1e6 (EV 1e6) and above one of 4e5
    (EV 6e5); a loss counts as zero. Equity value adds net cash: 6e5 + 2.5e5, or 6e5 - 8e5 < 0 with debt."""
    assert enterprise_value(1e6, 2e5, 3.0) == 1e6
    assert enterprise_value(4e5, 2e5, 3.0) == pytest.approx(6e5, rel=1e-15)
    assert enterprise_value(4e5, -5e5, 3.0) == 4e5
    assert standalone_value(4e5, 2e5, 3.0, 2.5e5) == pytest.approx(8.5e5, rel=1e-15)
    assert standalone_value(4e5, 2e5, 3.0, -8e5) == pytest.approx(-2e5, rel=1e-15)


def test_acquisition_terms_hand_computed() -> None:
    """Book 1e6, gross profit 5e5/yr, multiple 3, net cash 2e5, synergy 0.3, premium 0.2:
    EV = max(1.5e6, 1e6) = 1.5e6; price = (1.5e6 + 2e5) * 1.2 = 2.04e6; value = max(1.95e6, 1e6) + 2e5 = 2.15e6
    (the deal pays). Distressed with a 50% discount: price = 2.04e6 * 0.5 = 1.02e6."""
    terms: dict[str, Any] = dict(fleet_book_value=1e6, annual_gross_profit=5e5, gross_profit_multiple=3.0,
                                 net_cash=2e5, synergy=0.3, premium=0.2, distress_discount=0.5)
    price, value = acquisition_terms(distressed=False, **terms)
    assert price == pytest.approx(2.04e6, rel=1e-12)
    assert value == pytest.approx(2.15e6, rel=1e-12)
    price, value = acquisition_terms(distressed=True, **terms)
    assert price == pytest.approx(1.02e6, rel=1e-12)
    assert value == pytest.approx(2.15e6, rel=1e-12)


def test_the_audited_entrant_is_priced_with_its_cash() -> None:
    """The audit's case (seed 1): an entrant holding $260M was bought for $64.8M, a multiple of its profit. Here an
    entrant with 2,000 H100 on its books at $40M, $8M a year of gross profit and $260M of cash: EV = max(3 x 8,
    40) = $40M, price (40 + 260) x 1.2 = $360M (the old rule asked (40 + 24) x 1.2 = $76.8M), value max(31.2, 40)
    + 260 = $300M: the deal does not pay."""
    price, value = acquisition_terms(fleet_book_value=40e6, annual_gross_profit=8e6, gross_profit_multiple=3.0,
                                     net_cash=260e6, synergy=0.3, premium=0.2, distressed=False,
                                     distress_discount=0.5)
    assert price == pytest.approx(360e6, rel=1e-12)
    assert value == pytest.approx(300e6, rel=1e-12)


def test_acquisition_terms_of_an_insolvent_target() -> None:
    """A loss maker with a fleet of 4e5 and 6e5 of debt: equity 4e5 - 6e5 < 0, so the price is 0 (the acquirer
    takes over the debt); its value to the acquirer, 4e5 - 6e5 = -2e5, is below the price: no deal."""
    price, value = acquisition_terms(fleet_book_value=4e5, annual_gross_profit=-1e6, gross_profit_multiple=3.0,
                                     net_cash=-6e5, synergy=0.5, premium=0.25, distressed=True,
                                     distress_discount=0.5)
    assert (price, value) == (0.0, pytest.approx(-2e5, rel=1e-15))


# ---------------------------------------------------------------------------------------------------------
# entry signal
# ---------------------------------------------------------------------------------------------------------


def test_entry_signal_is_a_strict_threshold_on_the_mean_margin() -> None:
    """Margins 0.25, 0.5, 0.75 have mean 0.5 (exact in binary): attractive above a threshold of 0.49, not at
    0.5 or above."""
    assert entry_is_attractive([0.25, 0.5, 0.75], 0.49)
    assert not entry_is_attractive([0.25, 0.5, 0.75], 0.5)
    assert not entry_is_attractive([0.25, 0.5, 0.75], 0.51)


def test_entry_signal_ignores_months_without_revenue() -> None:
    """NaN months (no revenue) are skipped: the mean of 0.5 and 0.25 is 0.375 (with the NaNs as zeros it would be
    0.1875); with no margin at all there is no signal."""
    assert entry_is_attractive([math.nan, 0.5, math.nan, 0.25], 0.37)
    assert not entry_is_attractive([math.nan, 0.5, math.nan, 0.25], 0.375)
    assert not entry_is_attractive([math.nan, math.nan], -1e9)
    assert not entry_is_attractive([], -1e9)


# ---------------------------------------------------------------------------------------------------------
# data flywheel
# ---------------------------------------------------------------------------------------------------------


def test_flywheel_gain_closed_form() -> None:
    """gain = rate * ln(1 + cumulative / scale): at cumulative = scale it is rate * ln 2; at (e - 1) * scale it
    is the rate itself; nothing served or no learning means no gain."""
    assert flywheel_gain(1e9, 1e9, 0.03) == pytest.approx(0.03 * math.log(2.0), rel=1e-15)
    assert flywheel_gain((math.e - 1.0) * 5e8, 5e8, 0.2) == pytest.approx(0.2, rel=1e-15)
    assert flywheel_gain(0.0, 1e9, 0.03) == 0.0
    assert flywheel_gain(1e12, 1e9, 0.0) == 0.0


MU = 0.25
"""Logit scale of the tiny markets below."""


def fixed_cost_firm(name: str, kind: str, **extra: Any) -> dict[str, Any]:
    """A provider with fixed quality 2, unit cost 1 and unlimited capacity, pricing at cost + 50%."""
    return {"name": name, "kind": kind, "regions": ["global"], "quality": 2.0, "unit_cost_usd_per_mtok": 1.0,
            "capacity_mtok_per_month": math.inf, "pricing": {"strategy": "cost_plus", "markup": 0.5},
            "investment": {"strategy": "none"}, **extra}


def tiny_market(providers: list[dict[str, Any]], *, agents: int = 10, demand: float = 100.0) -> dict[str, Any]:
    """One region, identical buyers with fixed volume ``agents * demand`` and a worthless outside option (utility
    -50, share exp(-200) relative to the offers: every token is bought)."""
    return {
        "name": "tiny_market",
        "simulation": {"steps": 4, "rationing_rounds": 0},
        "logit": {"mu": MU, "utility_form": "linear"},
        "outside_option": {"value": -50.0, "self_hosting": False},
        "regions": [{"name": "global", "latency_penalty": 0.0}],
        "segments": [{"name": "buyers", "n_agents": agents, "base_demand_mtok_per_month": demand,
                      "demand_dispersion": 0.0, "price_elasticity": 0.0}],
        "providers": providers,
    }


def test_flywheel_quality_and_privacy_risk_in_a_run() -> None:
    """A monopolist serving all 10 x 100 = 1,000 Mtok a month, with flywheel rate 0.1, scale 1,000 Mtok and
    privacy cost 0.5, base quality 2 and base privacy risk 0.1. After month t it has served 1,000 (t + 1) Mtok,
    so its quality is 2 * (1 + 0.1 ln(2 + t)) and its privacy risk 0.1 + 0.5 * 0.1 ln(2 + t); the offer it posts
    in month t + 1 carries that quality."""
    cfg = fixed_cost_firm("cloud", "hyperscaler", privacy_risk=0.1, flywheel_learning_rate=0.1,
                          flywheel_scale_mtok=1000.0, flywheel_privacy_cost=0.5)
    model = InferenceMarket(scenario_from_dict(tiny_market([cfg])), seed=0)
    cloud = model.providers[0]
    posted: list[float] = []
    for t in range(4):
        model.step()
        assert model.offers is not None and model.clearing is not None
        posted.append(float(model.offers.quality[0]))
        assert float(model.clearing.served.sum()) == pytest.approx(1000.0, rel=1e-12)
        gain = 0.1 * math.log(2.0 + t)
        assert cloud.cumulative_served_mtok == pytest.approx(1000.0 * (t + 1), rel=1e-12)
        assert cloud.flywheel_gain == pytest.approx(gain, rel=1e-12)
        assert cloud.quality(model.frontier, model.open_weight) == pytest.approx(2.0 * (1.0 + gain), rel=1e-12)
        assert cloud.privacy_risk == pytest.approx(0.1 + 0.5 * gain, rel=1e-12)
    # Month 0 is posted before anything was served; month t + 1 carries the gain of t + 1 months served.
    assert posted[0] == 2.0
    for t in range(3):
        assert posted[t + 1] == pytest.approx(2.0 * (1.0 + 0.1 * math.log(2.0 + t)), rel=1e-12)
    frame = model.recorder.frames()["providers"]
    expected = [2.0 * (1.0 + 0.1 * math.log(2.0 + t)) for t in range(4)]
    np.testing.assert_allclose(frame["quality"].to_numpy(), expected, rtol=1e-12)


def test_without_flywheel_quality_stays_put() -> None:
    cfg = fixed_cost_firm("cloud", "hyperscaler", privacy_risk=0.1, flywheel_privacy_cost=0.5)
    model = InferenceMarket(scenario_from_dict(tiny_market([cfg])), seed=0)
    model.run(3)
    cloud = model.providers[0]
    assert cloud.cumulative_served_mtok == pytest.approx(3000.0, rel=1e-12)
    assert (cloud.flywheel_gain, cloud.quality(1.0, 1.0), cloud.privacy_risk) == (0.0, 2.0, 0.1)


# ---------------------------------------------------------------------------------------------------------
# consolidation of balance sheets
# ---------------------------------------------------------------------------------------------------------


def three_firms() -> tuple[Provider, Provider, Provider]:
    providers = [
        fixed_cost_firm("cloud", "hyperscaler", cash_usd=1e9, credit_limit_usd=4e8, privacy_risk=0.6),
        fixed_cost_firm("specialist", "specialized", cash_usd=-3e6, credit_limit_usd=1e6, privacy_risk=0.1),
        fixed_cost_firm("swarm", "decentralized", cash_usd=2e6, credit_limit_usd=5e5, privacy_risk=0.9),
    ]
    model = InferenceMarket(scenario_from_dict(tiny_market(providers)), seed=0)
    cloud, specialist, swarm = model.providers
    return cloud, specialist, swarm


def test_consolidate_into_merges_the_treasury() -> None:
    """The target's cash (here a debt of 3e6) joins the acquirer's: 1e9 - 3e6; the subsidiary then reads and
    writes its owner's cash and credit limit, and takes the acquirer's privacy practices (the larger risk)."""
    cloud, specialist, _ = three_firms()
    specialist.consolidate_into(cloud)
    assert cloud.cash == 1e9 - 3e6
    assert specialist._cash == 0.0
    assert specialist.cash == cloud.cash
    assert specialist.credit_limit == 4e8
    assert (specialist.parent, specialist.owner, specialist.owner_id) == (cloud, cloud, cloud.holder_id)
    assert specialist.base_privacy_risk == 0.6
    specialist.cash += 5e5  # revenue booked on the subsidiary lands in the owner's treasury
    assert cloud.cash == 1e9 - 3e6 + 5e5
    assert specialist._cash == 0.0


def test_consolidation_through_a_chain_reaches_the_ultimate_owner() -> None:
    """swarm -> specialist -> cloud: the swarm's 2e6 goes to the cloud (the specialist's owner), it keeps its own
    higher privacy risk, and its cash and credit are the cloud's."""
    cloud, specialist, swarm = three_firms()
    specialist.consolidate_into(cloud)
    swarm.consolidate_into(specialist)
    assert swarm.parent is specialist
    assert swarm.owner is cloud
    assert cloud.cash == 1e9 - 3e6 + 2e6
    assert (specialist._cash, swarm._cash) == (0.0, 0.0)
    assert swarm.cash == cloud.cash
    assert swarm.credit_limit == 4e8
    assert swarm.base_privacy_risk == 0.9
