"""Router fee strategies (agents.router): the registry and the adaptive fee's moves, by hand."""

from __future__ import annotations

import math

import pytest

from agents.router import FEE_STRATEGIES, AdaptiveFeeStrategy, FixedMarkupStrategy, make_fee_strategy
from market.config import AdaptiveFee, FixedMarkupFee


def test_fee_strategies_are_picked_by_name() -> None:
    assert set(FEE_STRATEGIES) == {"fixed_markup", "adaptive_fee"}
    fixed = make_fee_strategy(FixedMarkupFee(markup=0.07))
    assert isinstance(fixed, FixedMarkupStrategy)
    fixed.observe(1e6)
    assert fixed.markup() == 0.07
    assert isinstance(make_fee_strategy(AdaptiveFee()), AdaptiveFeeStrategy)


def test_adaptive_fee_climbs_fee_income_by_hand() -> None:
    """0.05 x e^0.1 after the first month (up); income rose: step 0.1 / sqrt(0.8) = 0.1118, up again; income
    fell: direction down, step 0.1118 x 0.8 = 0.0894."""
    fee = AdaptiveFeeStrategy(AdaptiveFee(initial_markup=0.05, step=0.1, step_decay=0.8))
    assert fee.markup() == 0.05
    fee.observe(100.0)
    assert fee.markup() == pytest.approx(0.05 * math.exp(0.1))
    fee.observe(120.0)
    up = 0.1 / math.sqrt(0.8)
    assert fee.markup() == pytest.approx(0.05 * math.exp(0.1 + up))
    fee.observe(90.0)
    assert fee.markup() == pytest.approx(0.05 * math.exp(0.1 + up - 0.8 * up))


def test_adaptive_fee_stays_within_its_bounds() -> None:
    fee = AdaptiveFeeStrategy(AdaptiveFee(initial_markup=0.9, max_markup=1.0, step=0.5, max_step=0.9))
    for income in range(10):
        fee.observe(float(income))  # income always rising: always up
    assert fee.markup() == 1.0
    with pytest.raises(ValueError, match="initial_markup"):
        AdaptiveFee(initial_markup=2.0, max_markup=1.0)
