"""The outside option (market/demand.py): the cost of self-hosting and the outside utility as a logit log-sum.

Expected values by hand from the docstrings of ``self_hosting_cost`` and ``outside_option_utility``, with a
month of 730.5 hours (market/technology.py): one GPU at 1,000 tokens/s serves 2,629.8 Mtok a month.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from market.config import OutsideOptionConfig
from market.demand import outside_option_utility, self_hosting_cost
from market.technology import GenerationTable

# 'old' (released at -24, life 48, 1,000 tokens/s, 0.5 kW), 'new' (released at -2, list 48,000, life 48, 3,000
# tokens/s, 1.0 kW) and 'future' (released at 10, faster and cheaper than both).
GENERATIONS = GenerationTable(
    names=("old", "new", "future"), release_step=np.array([-24, -2, 10], dtype=np.int64),
    list_price_usd=np.array([20_000.0, 48_000.0, 1_000.0]),
    throughput_tokens_per_s=np.array([1000.0, 3000.0, 9000.0]), power_kw=np.array([0.5, 1.0, 0.1]),
    lifetime_months=np.array([48, 48, 48], dtype=np.int64), vendor_supply_per_month=np.full(3, np.inf))

# Premium 1.5, utilization 0.5, efficiency 0.8 (x multiplier 1.25 = 1), PUE 1.2, opex 50 a GPU-month.
OPTIONS = OutsideOptionConfig(self_host_gpu_premium=1.5, self_host_utilization=0.5, self_host_efficiency=0.8,
                              self_host_pue=1.2, self_host_opex_usd_per_gpu_month=50.0)
TOKENS_OLD = 2629.8 * 0.5  # 1,314.9 Mtok a month at utilization 0.5
TOKENS_NEW = 3 * TOKENS_OLD  # 3,944.7


def cost(used: list[float], power_price: list[float], step: int = 0) -> np.ndarray:
    return self_hosting_cost(step=step, generations=GENERATIONS, used_price_usd=np.array(used),
                             power_price=np.array(power_price), options=OPTIONS, efficiency_multiplier=1.25)


def test_a_used_generation_in_stock_against_the_newest_new() -> None:
    """Step 0. 'old' in stock at 2,000: 24 months of life left, capital 1.5 * 2,000 / 24 = 125 a month. 'new' is
    not in stock: bought new, 48,000 / 48 = 1,000 a month. 'future' is not released (its used quote of 1 is
    ignored). Power per GPU-month: 'old' 0.5 * 1.2 * 730.5 = 438.3 kWh, 'new' 876.6 kWh.

    Region 0 at $0.10/kWh: old (125 + 43.83 + 50) / 1,314.9 = 0.166 beats new (1,000 + 87.66 + 50) / 3,944.7
    = 0.288. Region 1 at $2/kWh: old (125 + 876.6 + 50) / 1,314.9 = 0.800 loses to new (1,000 + 1,753.2 + 50)
    / 3,944.7 = 0.711."""
    got = cost([2000.0, np.nan, 1.0], [0.10, 2.0])
    np.testing.assert_allclose(got, [218.83 / TOKENS_OLD, 2803.2 / TOKENS_NEW], rtol=1e-13)


def test_a_used_lot_is_costed_over_its_own_remaining_life() -> None:
    """'old' lots on sale have 40 months left (built 16 months after their generation's release), not 24:
    capital 1.5 * 2,000 / 40 = 75 a month; region 0: (75 + 43.83 + 50) / 1,314.9. NaN life (nothing held) falls
    back to the release date."""
    got = self_hosting_cost(step=0, generations=GENERATIONS, used_price_usd=np.array([2000.0, np.nan, 1.0]),
                            power_price=np.array([0.10]), options=OPTIONS, efficiency_multiplier=1.25,
                            used_life_left=np.array([40.0, np.nan, np.nan]))
    np.testing.assert_allclose(got, [168.83 / TOKENS_OLD], rtol=1e-13)


def test_the_newest_generation_used_when_cheaper_than_new() -> None:
    """'new' in stock at 24,000: 1.5 * 24,000 / (48 - 2) = 782.61 a month, below the 1,000 of a new one. With 'old'
    out of stock, region 0 at $0.10/kWh costs (36,000 / 46 + 87.66 + 50) / 3,944.7."""
    got = cost([np.nan, 24_000.0, np.nan], [0.10])
    np.testing.assert_allclose(got, [(36_000.0 / 46.0 + 87.66 + 50.0) / TOKENS_NEW], rtol=1e-13)


def test_a_used_quote_above_new_is_ignored_for_the_newest() -> None:
    """'new' in stock at 40,000: 1.5 * 40,000 / 46 = 1,304 a month is dearer than new (1,000): the new one's
    cost (1,000 + 87.66 + 50) / 3,944.7 applies."""
    got = cost([np.nan, 40_000.0, np.nan], [0.10])
    np.testing.assert_allclose(got, [1137.66 / TOKENS_NEW], rtol=1e-13)


def test_no_released_generation_raises() -> None:
    """At step -30 nothing is released (releases at -24, -2, 10): self-hosting has no GPU; a ValueError."""
    with pytest.raises(ValueError, match="no generation is released"):
        cost([1.0, 1.0, 1.0], [0.10], step=-30)


def test_outside_utility_without_self_hosting_is_a0() -> None:
    """No self-hosting: every enterprise's outside utility is a0 = -1."""
    got = outside_option_utility(not_buying_value=-1.0, self_host_cost_by_region=None, region=np.array([0, 1, 1]),
                                 quality_weight=np.ones(3), price_sensitivity=np.ones(3), self_host_quality=1.0,
                                 self_host_penalty=0.0, mu=0.5, form="linear")
    np.testing.assert_array_equal(got, [-1.0, -1.0, -1.0])


def test_outside_utility_log_sum_linear() -> None:
    """Linear utility, a0 = -1, mu = 0.5, self-host quality 1.5, penalty 0.5, cost 0.4 in region 0 and 0.8 in
    region 1. u_self: e0 (region 0, w 2, b 1): 3 - 0.4 - 0.5 = 2.1; e1 (region 1, w 1, b 2): 1.5 - 1.6 - 0.5
    = -0.6; e2 (region 1, w 3, b 0.5): 4.5 - 0.4 - 0.5 = 3.6. u_out = 0.5 ln(e^-2 + e^(2 u_self))."""
    got = outside_option_utility(not_buying_value=-1.0, self_host_cost_by_region=np.array([0.4, 0.8]),
                                 region=np.array([0, 1, 1]), quality_weight=np.array([2.0, 1.0, 3.0]),
                                 price_sensitivity=np.array([1.0, 2.0, 0.5]), self_host_quality=1.5,
                                 self_host_penalty=0.5, mu=0.5, form="linear")
    expected = [0.5 * math.log(math.exp(-2.0) + math.exp(2.0 * u)) for u in (2.1, -0.6, 3.6)]
    np.testing.assert_allclose(got, expected, rtol=1e-13)


def test_outside_utility_log_sum_log_form() -> None:
    """Log utility: u_self = 2 ln 1.5 - 1 * ln 0.5 - 0.5 = 1.004077; with a0 = 0 and mu = 0.25,
    u_out = 0.25 ln(1 + e^(4 u_self))."""
    got = outside_option_utility(not_buying_value=0.0, self_host_cost_by_region=np.array([0.5]),
                                 region=np.array([0]), quality_weight=np.array([2.0]),
                                 price_sensitivity=np.array([1.0]), self_host_quality=1.5, self_host_penalty=0.5,
                                 mu=0.25, form="log")
    u_self = 2.0 * math.log(1.5) - math.log(0.5) - 0.5
    np.testing.assert_allclose(got, [0.25 * math.log(1.0 + math.exp(4.0 * u_self))], rtol=1e-13)
