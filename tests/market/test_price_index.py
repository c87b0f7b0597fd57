"""Chained price indices (market/price_index.py) against hand-computed Fisher and Tornqvist indices.

The 3-offer example: prices (1, 2, 4) -> (0.5, 2, 3), tokens (10, 5, 2) -> (20, 4, 3). Spend 28 -> 27.
Laspeyres = 21 / 28 = 0.75, Paasche = 27 / 40 = 0.675, Fisher = sqrt(0.50625) = 0.711512;
Tornqvist: ln T = (10/28 + 10/27)/2 ln 0.5 + (8/28 + 9/27)/2 ln 0.75 = -0.341181.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from market.price_index import ChainedPriceIndex, fisher_relative, quality_adjusted_price, tornqvist_log_relative

P0, P1 = np.array([1.0, 2.0, 4.0]), np.array([0.5, 2.0, 3.0])
Q0, Q1 = np.array([10.0, 5.0, 2.0]), np.array([20.0, 4.0, 3.0])
LN_T = 0.5 * (10 / 28 + 10 / 27) * math.log(0.5) + 0.5 * (8 / 28 + 9 / 27) * math.log(0.75)


def test_fisher_and_tornqvist_by_hand() -> None:
    assert fisher_relative(P0, P1, Q0, Q1) == pytest.approx(math.sqrt(0.75 * 0.675), rel=1e-12)
    assert fisher_relative(P0, P1, Q0, Q1) == pytest.approx(0.711512, abs=1e-6)
    assert tornqvist_log_relative(P0, P1, Q0, Q1) == pytest.approx(LN_T, rel=1e-12)
    assert LN_T == pytest.approx(-0.341181, abs=1e-6)


def test_chained_index_matches_offers_by_provider_and_region() -> None:
    """Month 1 lists the offers in another order and adds an entrant (key 9): the index is the hand
    Tornqvist over the three matched offers; spend per token moves from 28/17 to 27.5/28 (the entrant sells
    1 token at 0.5), and the rest of its log change is composition."""
    index = ChainedPriceIndex(("all",), np.zeros(1), np.ones(1), "log")
    first = index.update(np.array([1, 2, 3]), P0, np.ones(3), Q0[None, :])
    assert first["chained_price_index"] == 1.0 and math.isnan(first["log_change_price"])
    order = np.array([2, 0, 1])
    row = index.update(np.array([3, 1, 2, 9]), np.append(P1[order], 0.5), np.ones(4), np.append(Q1[order], 1.0)[None])
    assert row["chained_price_index"] == pytest.approx(math.exp(LN_T), rel=1e-12)
    assert row["chained_price_index_all"] == pytest.approx(math.exp(LN_T), rel=1e-12)
    spt = math.log((27.5 / 28.0) / (28.0 / 17.0))
    assert row["log_change_spend_per_token"] == pytest.approx(spt, rel=1e-12)
    assert row["log_change_composition"] == pytest.approx(spt - LN_T, rel=1e-12)
    assert row["log_change_quality"] == 0.0  # no quality weight, no adjustment


def test_mix_shift_at_constant_prices_is_composition_not_price() -> None:
    """Buyers move from the cheap to the dear offer, no price changes: spend per token rises, the index does not
    (the defect of reading spend per token as a price index)."""
    index = ChainedPriceIndex(("all",), np.zeros(1), np.ones(1), "log")
    index.update(np.array([0, 1]), np.array([1.0, 3.0]), np.ones(2), np.array([[9.0, 1.0]]))
    row = index.update(np.array([0, 1]), np.array([1.0, 3.0]), np.ones(2), np.array([[1.0, 9.0]]))
    assert row["chained_price_index"] == 1.0
    assert row["log_change_composition"] == pytest.approx(math.log(2.8 / 1.2), rel=1e-12)


def test_quality_adjustment_is_the_utility_value_of_quality() -> None:
    """Log utility, w_q = 3, b = 2: quality 10 -> 11 at a constant price is worth a price fall of
    (11/10)^(-1.5); the market and segment quality-adjusted indices fall by exactly that, and the quality term
    of the decomposition is -1.5 ln 1.1. Linear: p - (w_q / b) dq = 2 - 1.5 * 0.5 = 1.25."""
    index = ChainedPriceIndex(("perf",), np.array([3.0]), np.array([2.0]), "log")
    index.update(np.array([0, 1]), np.array([1.0, 2.0]), np.full(2, 10.0), np.array([[4.0, 1.0]]))
    row = index.update(np.array([0, 1]), np.array([1.0, 2.0]), np.full(2, 11.0), np.array([[4.0, 1.0]]))
    assert row["chained_price_index"] == 1.0
    assert row["quality_adjusted_chained_price_index"] == pytest.approx(1.1**-1.5, rel=1e-12)
    assert row["quality_adjusted_chained_price_index_perf"] == pytest.approx(1.1**-1.5, rel=1e-12)
    assert row["log_change_quality"] == pytest.approx(-1.5 * math.log(1.1), rel=1e-12)
    linear = quality_adjusted_price(np.array([2.0]), np.array([1.0]), np.array([1.5]), 3.0, 2.0, "linear")
    assert linear[0] == pytest.approx(1.25)


def test_tier_price_index_chains_each_tier_over_its_matched_offers() -> None:
    """Hand-worked: tier a has offers 1 and 2 at prices (1, 2) buying (10, 5) tokens, then (0.5, 2) buying
    (20, 5): spend shares (0.5, 0.5) then (0.5, 0.5), so ln T = 0.5 ln 0.5 + 0.5 ln 1 and the index is
    sqrt(0.5). Tier b's only offer (key 3) is new in month two: nothing matched, the index stays at 1."""
    from market.price_index import TierPriceIndex

    index = TierPriceIndex(("a", "b"))
    first = index.update(np.array([1, 2]), np.array([0, 0]), np.array([1.0, 2.0]), np.array([10.0, 5.0]))
    assert first == {"price_index_a": 1.0, "price_index_b": 1.0, "quality_adjusted_price_index_a": 1.0,
                     "quality_adjusted_price_index_b": 1.0}
    second = index.update(np.array([1, 2, 3]), np.array([0, 0, 1]), np.array([0.5, 2.0, 3.0]),
                          np.array([20.0, 5.0, 1.0]))
    assert second["price_index_a"] == pytest.approx(np.sqrt(0.5), rel=1e-12)
    assert second["price_index_b"] == 1.0
    assert second["quality_adjusted_price_index_a"] == pytest.approx(np.sqrt(0.5), rel=1e-12)  # quality unchanged


def test_tier_quality_adjusted_index_prices_a_fixed_capability() -> None:
    """Hand-worked, log utility: the tier's one offer halves its price (1 -> 0.5) while its quality doubles
    (1 -> 2), and buyers value quality at w_q / b = 0.5: at last month's quality the price would have been
    0.5 * 2^-0.5, so the quality-adjusted index is 0.5 / sqrt(2) while the plain index is 0.5."""
    from market.price_index import TierPriceIndex

    index = TierPriceIndex(("a",))
    index.update(np.array([1]), np.array([0]), np.array([1.0]), np.array([4.0]), np.array([1.0]), 0.5)
    second = index.update(np.array([1]), np.array([0]), np.array([0.5]), np.array([9.0]), np.array([2.0]), 0.5)
    assert second["price_index_a"] == pytest.approx(0.5, rel=1e-12)
    assert second["quality_adjusted_price_index_a"] == pytest.approx(0.5 / np.sqrt(2.0), rel=1e-12)
