"""Obsolescence in the investment rule (agents.investment.obsolescence_factor, expected_rent_decline_per_year)."""

from __future__ import annotations

import numpy as np
import pytest

from agents.investment import UtilizationTargetStrategy, obsolescence_factor
from tests.agents.test_investment import TARGET, view


def test_a_rent_halving_every_month_keeps_three_quarters_over_two_months() -> None:
    """Hand calculation at a zero cost of capital: rent R then R/2 earns 1.5 R against 2 R constant: 0.75
    (a yearly decline of 1 - 0.5^12 is a monthly halving)."""
    assert float(obsolescence_factor(0.0, 1.0 - 0.5 ** 12, 2)) == pytest.approx(0.75, rel=1e-12)


def test_the_factor_is_the_ratio_of_present_values_summed_month_by_month() -> None:
    """10% a year cost of capital, rent falling 30% a year, 48 months: the closed form against the two
    discounted sums written out term by term."""
    r, keep = 1.1 ** (1 / 12) - 1.0, 0.7 ** (1 / 12)
    t = np.arange(1, 49)
    direct = float((keep ** (t - 1) / (1 + r) ** t).sum() / (1 / (1 + r) ** t).sum())
    assert float(obsolescence_factor(0.10, 0.30, 48)) == pytest.approx(direct, rel=1e-12)
    assert float(obsolescence_factor(0.10, 0.0, 48)) == 1.0


def test_new_capacity_must_pay_with_the_rent_it_will_earn_later() -> None:
    """New GPU: $5/Mtok at full use over 60 months at 0% (test_investment). A rent falling 50% a year
    (d = 1 - 0.5^(1/12) = 0.056126 a month) keeps phi = (1 - 0.5^5) / (60 d) = 0.287673 of a constant rent,
    so a price must reach 5 / 0.287673 / 0.75 = 23.174 $/Mtok (6.67 without obsolescence). Region 0 at 23.2
    buys, region 1 at 23.1 does not; with the default (no decline) both buy."""
    base = view(used_available=np.array([0, 0, 0]), capacity=np.array([1000.0, 1000.0]),
                demand=np.array([900.0, 900.0]), price=np.array([23.2, 23.1]))
    falling = TARGET.model_copy(update={"expected_rent_decline_per_year": 0.5})
    order = UtilizationTargetStrategy(falling).decide(base)
    assert order.buy_new[0] > 0 and order.buy_new[1] == 0
    assert (UtilizationTargetStrategy(TARGET).decide(base).buy_new > 0).all()
