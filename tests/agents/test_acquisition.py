"""Acquisition strategies (agents/acquisition.py): the value-over-price choice on hand-priced deals, and the
registry.

Prices and values follow ``market.corporate.acquisition_terms``, worked out by hand here:
``standalone = book + max(gp, 0) x multiple``, ``price = standalone x (1 + premium) x (1 - discount if distressed)``,
``value = book + max(gp, 0) x multiple x (1 + synergy)``. With multiple 2, synergy 0.5, premium 0.2 and
distress discount 0.5:

=========  =====  ========  =====  ===========  ======  =====  =======
candidate  share  distress  book   gross prof.  price   value  surplus
=========  =====  ========  =====  ===========  ======  =====  =======
3 (small)  0.05   no        40     20           96      100    4
5 (large)  0.30   no        0      1000         2400    3000   600 (not eligible: neither small nor distressed)
7          0.40   yes       200    -30          120     200    80
=========  =====  ========  =====  ===========  ======  =====  =======
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from agents.acquisition import (
    ACQUISITION_STRATEGIES,
    AcquisitionView,
    DealProposal,
    ValueOverPriceStrategy,
    make_acquisition_strategy,
)
from market.config import AcquisitionConfig

PARAMS = AcquisitionConfig(small_share_threshold=0.1, revenue_multiple=2.0, synergy=0.5, premium=0.2,
                           distress_discount=0.5)


def view(**changes: Any) -> AcquisitionView:
    values: dict[str, Any] = {
        "acquirer": 0, "cash": 1e6, "credit_limit": 0.0, "candidate": np.array([3, 5, 7]),
        "revenue_share": np.array([0.05, 0.3, 0.4]), "distressed": np.array([False, False, True]),
        "annual_gross_profit": np.array([20.0, 1000.0, -30.0]), "fleet_book_value": np.array([40.0, 0.0, 200.0]),
    }
    return AcquisitionView(**{**values, **changes})


def propose(params: AcquisitionConfig = PARAMS, **changes: Any) -> DealProposal | None:
    return ValueOverPriceStrategy(params).propose(view(**changes))


def test_largest_surplus_among_small_or_distressed_targets() -> None:
    """Candidate 5 has the largest surplus but is large and healthy; of 3 (surplus 4) and 7 (80), 7 wins at 120."""
    assert propose() == DealProposal(target=7, price_usd=120.0)


def test_a_deal_it_cannot_finance_is_skipped() -> None:
    """Cash + credit must exceed the price: with 70 + 50 = 120 candidate 7 (price 120) is out, 3 (96) is taken;
    with 70 + 50.5 candidate 7 is affordable again."""
    assert propose(cash=70.0, credit_limit=50.0) == DealProposal(target=3, price_usd=96.0)
    assert propose(cash=70.0, credit_limit=50.5) == DealProposal(target=7, price_usd=120.0)


def test_a_borrowing_acquirer_uses_its_credit_line() -> None:
    """Cash -100 and credit 220: 120 of headroom -> 96 only; credit 221 -> 121 -> candidate 7."""
    assert propose(cash=-100.0, credit_limit=220.0) == DealProposal(target=3, price_usd=96.0)
    assert propose(cash=-100.0, credit_limit=221.0) == DealProposal(target=7, price_usd=120.0)


def test_nothing_affordable_means_no_deal() -> None:
    assert propose(cash=90.0) is None


def test_no_deal_when_value_does_not_exceed_price() -> None:
    """Without synergy or premium a healthy target's value equals its price (book + 2 gp): no deal. Candidate 7 is
    still distressed: price 200 x 0.5 = 100 < value 200."""
    params = AcquisitionConfig(small_share_threshold=0.1, revenue_multiple=2.0, synergy=0.0, premium=0.0,
                               distress_discount=0.5)
    healthy = np.array([False, False, False])
    assert propose(params, distressed=healthy) is None
    assert propose(params) == DealProposal(target=7, price_usd=100.0)


def test_small_means_strictly_below_the_threshold() -> None:
    """Candidate 3 at a share of exactly 0.1 is not small; with 7 healthy nothing qualifies."""
    healthy = np.array([False, False, False])
    assert propose(revenue_share=np.array([0.1, 0.3, 0.4]), distressed=healthy) is None
    assert propose(revenue_share=np.array([0.0999, 0.3, 0.4]), distressed=healthy) == DealProposal(3, 96.0)


def test_ties_go_to_the_first_candidate() -> None:
    """Two identical small targets (book 40, gp 20): the first in the view's order, holder 2."""
    same: dict[str, Any] = {"candidate": np.array([2, 6]), "revenue_share": np.array([0.0, 0.0]),
            "distressed": np.array([False, False]), "annual_gross_profit": np.array([20.0, 20.0]),
            "fleet_book_value": np.array([40.0, 40.0])}
    assert propose(**same) == DealProposal(target=2, price_usd=96.0)


def test_no_candidates() -> None:
    empty: dict[str, Any] = {"candidate": np.zeros(0, dtype=np.int64), "revenue_share": np.zeros(0),
             "distressed": np.zeros(0, dtype=bool), "annual_gross_profit": np.zeros(0), "fleet_book_value": np.zeros(0)}
    assert propose(**empty) is None


def test_registry_and_factory() -> None:
    assert ACQUISITION_STRATEGIES == {"value_over_price": ValueOverPriceStrategy}
    strategy = make_acquisition_strategy(PARAMS)
    assert type(strategy) is ValueOverPriceStrategy
    assert strategy.params is PARAMS


def test_unknown_strategy_names_the_value_and_the_choices() -> None:
    message = r"corporate\.acquisitions\.strategy = 'bogus'.*\(choose from value_over_price\)"
    with pytest.raises(ValueError, match=message):
        make_acquisition_strategy(AcquisitionConfig(strategy="bogus"))
