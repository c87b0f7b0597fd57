"""Enterprise demand (market/demand.py): choice utilities against a hand-built loop, and volume elasticity."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.typing import NDArray

from market.clearing import logit_shares
from market.demand import (
    EXCLUDED,
    choice_class_penalties,
    choice_utilities,
    effective_volume,
    price_term_derivative,
    utility_transform,
)

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

# Two regions (0 = na, 1 = eu) and two segments; segment 1 has a quality floor of 0.6 x frontier.
LATENCY = np.array([0.3, 0.5])  # penalty for a buyer in region r served from the other region
FLOOR = np.array([0.0, 0.6])
FRONTIER = 2.0

# Four offers: (region, quality, price, privacy risk, lock-in, unverified, reliability, shock).
OFFER_REGION = np.array([0, 0, 1, 1], dtype=np.int64)
OFFER_QUALITY = np.array([2.0, 1.0, 1.5, 1.1])
OFFER_PRICE = np.array([3.0, 1.0, 2.0, 0.8])
OFFER_PRIVACY = np.array([0.6, 0.1, 0.2, 0.4])
OFFER_LOCKIN = np.array([0.5, 0.0, 0.1, 0.0])
OFFER_UNVERIFIED = np.array([0.0, 0.0, 0.0, 1.0])
OFFER_RELIABILITY = np.array([0.99, 0.97, 0.98, 0.9])
OFFER_SHOCK = np.array([0.01, -0.02, 0.03, 0.0])

# Five enterprises: segment, region, residency-bound, weights, switching cost, incumbent offer.
SEGMENT = np.array([0, 0, 1, 1, 0], dtype=np.int64)
REGION = np.array([0, 1, 0, 1, 1], dtype=np.int64)
BOUND = np.array([False, True, False, False, True])
QUALITY_WEIGHT = np.array([3.0, 2.0, 2.5, 1.0, 1.5])
PRICE_SENSITIVITY = np.array([2.0, 1.0, 3.0, 0.5, 1.5])
PRIVACY_SENSITIVITY = np.array([0.2, 1.5, 0.0, 0.3, 0.7])
LOCKIN_AVERSION = np.array([0.3, 1.0, 0.0, 0.5, 0.2])
TRUST_WEIGHT = np.array([1.0, 2.0, 0.5, 0.0, 0.8])
RELIABILITY_WEIGHT = np.array([5.0, 3.0, 0.0, 1.0, 2.0])
SWITCHING_COST = np.array([0.4, 0.2, 0.0, 0.3, 0.25])
INCUMBENT = np.array([1, -1, 0, 3, 2], dtype=np.int64)


def choice_class(segment: IntArray, region: IntArray, bound: NDArray[np.bool_], n_regions: int) -> IntArray:
    """Class id as documented: (segment * n_regions + region) * 2 + residency_bound."""
    return (segment * n_regions + region) * 2 + bound.astype(np.int64)


def hand_utility(e: int, o: int, form: str) -> float:
    """Utility of enterprise e for offer o, term by term as in DESIGN.md 3.3 (None-like -inf if excluded)."""
    transform = (lambda x: x) if form == "linear" else math.log
    foreign = OFFER_REGION[o] != REGION[e]
    if foreign and BOUND[e]:
        return -math.inf  # data residency: may not use a foreign offer
    if OFFER_QUALITY[o] < FLOOR[SEGMENT[e]] * FRONTIER:
        return -math.inf  # below the segment's quality floor
    u = QUALITY_WEIGHT[e] * transform(OFFER_QUALITY[o]) - PRICE_SENSITIVITY[e] * transform(OFFER_PRICE[o])
    u -= PRIVACY_SENSITIVITY[e] * OFFER_PRIVACY[o]
    u -= LOCKIN_AVERSION[e] * OFFER_LOCKIN[o]
    u -= TRUST_WEIGHT[e] * OFFER_UNVERIFIED[o]
    u -= RELIABILITY_WEIGHT[e] * (1.0 - OFFER_RELIABILITY[o])
    if o != INCUMBENT[e]:
        u -= SWITCHING_COST[e]
    if foreign:
        u -= LATENCY[REGION[e]]
    return u + OFFER_SHOCK[o]


def model_utilities(form: str, switching_cost: FloatArray = SWITCHING_COST) -> FloatArray:
    penalty = choice_class_penalties(
        n_segments=2,
        region_latency_penalty=LATENCY,
        segment_quality_floor=FLOOR,
        frontier_quality=FRONTIER,
        offer_region=OFFER_REGION,
        offer_quality=OFFER_QUALITY,
    )
    return choice_utilities(
        quality_weight=QUALITY_WEIGHT,
        price_sensitivity=PRICE_SENSITIVITY,
        privacy_sensitivity=PRIVACY_SENSITIVITY,
        lockin_aversion=LOCKIN_AVERSION,
        trust_weight=TRUST_WEIGHT,
        reliability_weight=RELIABILITY_WEIGHT,
        switching_cost=switching_cost,
        choice_class=choice_class(SEGMENT, REGION, BOUND, 2),
        incumbent_offer=INCUMBENT,
        offer_quality=OFFER_QUALITY,
        offer_price=OFFER_PRICE,
        offer_privacy_risk=OFFER_PRIVACY,
        offer_lock_in=OFFER_LOCKIN,
        offer_unverified=OFFER_UNVERIFIED,
        offer_reliability=OFFER_RELIABILITY,
        class_penalty=penalty,
        form=form,
        offer_shock=OFFER_SHOCK,
    )


@pytest.mark.parametrize("form", ["linear", "log"])
def test_choice_utilities_match_hand_loop(form: str) -> None:
    utility = model_utilities(form)
    assert utility.shape == (5, 4)
    for e in range(5):
        for o in range(4):
            expected = hand_utility(e, o, form)
            if math.isinf(expected):
                assert utility[e, o] <= EXCLUDED / 2, (e, o)
            else:
                assert utility[e, o] == pytest.approx(expected, rel=1e-12, abs=1e-12), (e, o)


def test_exclusions_cover_residency_and_quality_floor() -> None:
    """Buyer 1 (eu, residency-bound) cannot use na offers 0 and 1; segment 1 (buyers 2, 3) cannot use offer 1
    (quality 1.0 < 0.6 x 2.0) nor offer 3 (1.1 < 1.2). Everything else is allowed."""
    excluded = model_utilities("linear") <= EXCLUDED / 2
    expected = np.array([
        [False, False, False, False],
        [True, True, False, False],
        [False, True, False, True],
        [False, True, False, True],
        [True, True, False, False],
    ])
    np.testing.assert_array_equal(excluded, expected)


def test_residency_bound_buyer_gets_zero_share_of_foreign_offers() -> None:
    utility = model_utilities("log")
    shares, outside = logit_shares(utility, np.zeros(5), 0.3)
    assert shares[1, 0] == 0.0 and shares[1, 1] == 0.0
    assert shares[4, 0] == 0.0 and shares[4, 1] == 0.0
    assert shares[1, 2] > 0.0 and shares[1, 3] > 0.0
    np.testing.assert_allclose(shares.sum(axis=1) + outside, 1.0, atol=1e-12)


def test_switching_cost_is_added_back_for_the_incumbent_only() -> None:
    """Raising buyer 0's switching cost by 1 lowers every offer but its incumbent (offer 1) by exactly 1."""
    base = model_utilities("linear")
    bumped = model_utilities("linear", SWITCHING_COST + np.array([1.0, 0.0, 0.0, 0.0, 0.0]))
    np.testing.assert_allclose(bumped[0] - base[0], [-1.0, 0.0, -1.0, -1.0], atol=1e-12)
    np.testing.assert_array_equal(bumped[1:], base[1:])


def test_class_penalty_table_latency() -> None:
    """Non-bound classes pay the buyer region's latency penalty on foreign offers only."""
    table = choice_class_penalties(
        n_segments=1,
        region_latency_penalty=np.array([0.3, 0.5]),
        segment_quality_floor=np.array([0.0]),
        frontier_quality=1.0,
        offer_region=np.array([0, 1], dtype=np.int64),
        offer_quality=np.array([1.0, 1.0]),
    )
    # classes: (region 0, free), (region 0, bound), (region 1, free), (region 1, bound)
    np.testing.assert_array_equal(table, [[0.0, -0.3], [0.0, EXCLUDED], [-0.5, 0.0], [EXCLUDED, 0.0]])


def test_effective_volume_constant_elasticity() -> None:
    """V = base * (p / p_ref) ** -eps: 100 * 2 ** -1.5 = 35.3553390593..., and 40 at eps = 0."""
    v = effective_volume(np.array([100.0, 40.0]), np.array([2.0, 5.0]), np.array([1.0, 1.0]), np.array([1.5, 0.0]))
    np.testing.assert_allclose(v, [100.0 / 2.0**1.5, 40.0], rtol=1e-15)
    assert v[0] == pytest.approx(35.35533905932738, rel=1e-14)


def test_effective_volume_elasticity_is_the_log_slope() -> None:
    """d ln V / d ln p = -eps at any price (central difference in log price)."""
    eps, h = 1.2, 1e-5
    p = np.array([0.5, 3.0])
    up = effective_volume(np.full(2, 7.0), p * math.exp(h), np.full(2, 2.0), np.full(2, eps))
    down = effective_volume(np.full(2, 7.0), p * math.exp(-h), np.full(2, 2.0), np.full(2, eps))
    np.testing.assert_allclose((np.log(up) - np.log(down)) / (2 * h), -eps, rtol=1e-8)


def test_utility_transform_and_derivative() -> None:
    x = np.array([0.5, 1.0, 4.0])
    np.testing.assert_array_equal(utility_transform(x, "linear"), x)
    np.testing.assert_allclose(utility_transform(x, "log"), np.log(x), rtol=1e-15)
    np.testing.assert_array_equal(price_term_derivative(x, "linear"), [1.0, 1.0, 1.0])
    np.testing.assert_allclose(price_term_derivative(x, "log"), [2.0, 1.0, 0.25], rtol=1e-15)
    with pytest.raises(ValueError, match="unknown utility form 'cubic'"):
        utility_transform(x, "cubic")
    with pytest.raises(ValueError, match="unknown utility form 'cubic'"):
        price_term_derivative(x, "cubic")


def test_quality_floors_are_beta_with_the_segment_mean_and_spread() -> None:
    """Beta(a, b) with a = m k, b = (1 - m) k, k = m (1 - m) / sd^2 - 1: for m = 0.9, sd = 0.08, k = 13.0625;
    200,000 draws match the mean and sd to sampling error; sd = 0 is the one threshold and takes no draw."""
    from market.demand import quality_floors

    rng = np.random.default_rng(7)
    floors = quality_floors(0.9, 0.08, 200_000, rng)
    assert floors.mean() == pytest.approx(0.9, abs=1e-3)
    assert floors.std() == pytest.approx(0.08, abs=1e-3)
    assert floors.min() >= 0.0 and floors.max() <= 1.0
    state = rng.bit_generator.state
    np.testing.assert_array_equal(quality_floors(0.7, 0.0, 3, rng), np.full(3, 0.7))
    assert rng.bit_generator.state == state
    with pytest.raises(ValueError, match="Beta"):
        quality_floors(0.9, 0.31, 3, rng)


def test_per_enterprise_floor_excludes_offers_and_self_hosting() -> None:
    """Frontier 10: a buyer with floor 0.85 keeps an 8.6 offer, one with floor 0.9 loses it, and self-hosting
    at quality 8.0 is open only to the buyer with floor 0.5."""
    from market.demand import outside_option_utility

    floor = np.array([0.85, 0.9, 0.5])
    utility = choice_utilities(
        quality_weight=np.ones(3), price_sensitivity=np.ones(3), privacy_sensitivity=np.zeros(3),
        lockin_aversion=np.zeros(3), trust_weight=np.zeros(3), reliability_weight=np.zeros(3),
        switching_cost=np.zeros(3), choice_class=np.zeros(3, dtype=np.int64), incumbent_offer=np.full(3, -1),
        offer_quality=np.array([10.0, 8.6]), offer_price=np.ones(2), offer_privacy_risk=np.zeros(2),
        offer_lock_in=np.zeros(2), offer_unverified=np.zeros(2), offer_reliability=np.ones(2),
        class_penalty=np.zeros((1, 2)), form="linear", quality_floor=floor, frontier_quality=10.0)
    assert utility[0, 1] == pytest.approx(7.6) and utility[2, 1] == pytest.approx(7.6)
    assert utility[1, 1] == EXCLUDED
    np.testing.assert_allclose(utility[:, 0], 9.0)
    out = outside_option_utility(not_buying_value=0.0, self_host_cost_by_region=np.array([1.0]),
                                 region=np.zeros(3, dtype=np.int64), quality_weight=np.ones(3),
                                 price_sensitivity=np.ones(3), self_host_quality=8.0, self_host_penalty=1.0, mu=0.5,
                                 form="linear", quality_floor=floor, frontier_quality=10.0)
    assert out[0] == 0.0 and out[1] == 0.0
    assert out[2] == pytest.approx(0.5 * np.logaddexp(0.0, 6.0 / 0.5))
