"""Acquisition strategies (agents/acquisition.py): the value-over-price choice on hand-priced deals, and the
registry.

Prices and values follow ``market.corporate.acquisition_terms``, worked out by hand here: enterprise value
``EV = max(multiple x max(gp, 0), book)``, ``price = max(EV + net cash, 0) x (1 + premium) x (1 - discount if
distressed)``, ``value = max(multiple x max(gp, 0) x (1 + synergy), book) + net cash``. With multiple 2, synergy 0.5,
premium 0.2 and distress discount 0.5:

=========  =====  ========  =====  ===========  ========  ====  ======  =====  =======
candidate  share  distress  book   gross prof.  net cash  EV    price   value  surplus
=========  =====  ========  =====  ===========  ========  ====  ======  =====  =======
3 (small)  0.05   no        40     30           10        60    84      100    16
5 (large)  0.30   no        0      1000         0         2000  2400    3000   600 (not eligible: neither small nor
                                                                                   distressed)
7          0.40   yes       200    -30          -40       200   96      160    64
=========  =====  ========  =====  ===========  ========  ====  ======  =====  =======

Candidate 3's EV is its earnings value (2 x 30 = 60 > 40); candidate 7's is its fleet (a loss maker), less its
debt: (200 - 40) x 1.2 x 0.5 = 96.
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

PARAMS = AcquisitionConfig(small_share_threshold=0.1, gross_profit_multiple=2.0, synergy=0.5, premium=0.2,
                           distress_discount=0.5)


def view(**changes: Any) -> AcquisitionView:
    values: dict[str, Any] = {
        "acquirer": 0, "cash": 1e6, "credit_limit": 0.0, "candidate": np.array([3, 5, 7]),
        "revenue_share": np.array([0.05, 0.3, 0.4]), "distressed": np.array([False, False, True]),
        "annual_gross_profit": np.array([30.0, 1000.0, -30.0]), "fleet_book_value": np.array([40.0, 0.0, 200.0]),
        "net_cash": np.array([10.0, 0.0, -40.0]),
    }
    return AcquisitionView(**{**values, **changes})


def propose(params: AcquisitionConfig = PARAMS, **changes: Any) -> DealProposal | None:
    return ValueOverPriceStrategy(params).propose(view(**changes))


def test_largest_surplus_among_small_or_distressed_targets() -> None:
    """Candidate 5 has the largest surplus but is large and healthy; of 3 (surplus 16) and 7 (64), 7 wins at 96."""
    assert propose() == DealProposal(target=7, price_usd=96.0)


def test_a_deal_it_cannot_finance_is_skipped() -> None:
    """The acquirer pays the price and takes over the target's debt within its cash plus credit: candidate 7 needs
    96 + 40 = 136, candidate 3 needs 84 (its cash is not counted before closing). With 70 + 66 = 136 candidate 7
    is out and 3 is taken; with 70 + 66.5 candidate 7 is affordable again."""
    assert propose(cash=70.0, credit_limit=66.0) == DealProposal(target=3, price_usd=84.0)
    assert propose(cash=70.0, credit_limit=66.5) == DealProposal(target=7, price_usd=96.0)


def test_a_borrowing_acquirer_uses_its_credit_line() -> None:
    """Cash -100 and credit 236: 136 of headroom -> candidate 3 only; credit 236.5 -> candidate 7."""
    assert propose(cash=-100.0, credit_limit=236.0) == DealProposal(target=3, price_usd=84.0)
    assert propose(cash=-100.0, credit_limit=236.5) == DealProposal(target=7, price_usd=96.0)


def test_nothing_affordable_means_no_deal() -> None:
    assert propose(cash=84.0) is None


def test_no_deal_when_value_does_not_exceed_price() -> None:
    """Without synergy or premium a healthy target's value equals its price (EV + net cash): no deal. Candidate 7
    is still distressed: price (200 - 40) x 0.5 = 80 < value 160."""
    params = AcquisitionConfig(small_share_threshold=0.1, gross_profit_multiple=2.0, synergy=0.0, premium=0.0,
                               distress_discount=0.5)
    healthy = np.array([False, False, False])
    assert propose(params, distressed=healthy) is None
    assert propose(params) == DealProposal(target=7, price_usd=80.0)


def test_a_cash_rich_target_is_not_worth_its_premium() -> None:
    """Candidate 3 holding 500 of cash (the audit's entrant holding $260M): price (60 + 500) x 1.2 = 672, value
    90 + 500 = 590: the premium on its cash outweighs the synergy, no deal (7 healthy here)."""
    healthy = np.array([False, False, False])
    assert propose(net_cash=np.array([500.0, 0.0, -40.0]), distressed=healthy) is None


def test_small_means_strictly_below_the_threshold() -> None:
    """Candidate 3 at a share of exactly 0.1 is not small; with 7 healthy nothing qualifies."""
    healthy = np.array([False, False, False])
    assert propose(revenue_share=np.array([0.1, 0.3, 0.4]), distressed=healthy) is None
    assert propose(revenue_share=np.array([0.0999, 0.3, 0.4]), distressed=healthy) == DealProposal(3, 84.0)


def test_ties_go_to_the_first_candidate() -> None:
    """Two identical small targets (book 40, gp 30, net cash 10): the first in the view's order, holder 2."""
    same: dict[str, Any] = {"candidate": np.array([2, 6]), "revenue_share": np.array([0.0, 0.0]),
            "distressed": np.array([False, False]), "annual_gross_profit": np.array([30.0, 30.0]),
            "fleet_book_value": np.array([40.0, 40.0]), "net_cash": np.array([10.0, 10.0])}
    assert propose(**same) == DealProposal(target=2, price_usd=84.0)


def test_no_candidates() -> None:
    empty: dict[str, Any] = {"candidate": np.zeros(0, dtype=np.int64), "revenue_share": np.zeros(0),
             "distressed": np.zeros(0, dtype=bool), "annual_gross_profit": np.zeros(0), "fleet_book_value": np.zeros(0),
             "net_cash": np.zeros(0)}
    assert propose(**empty) is None


def test_the_old_multiple_key_is_a_clear_error() -> None:
    """'revenue_multiple' multiplied gross profit; the renamed key is required, with a message saying why."""
    with pytest.raises(ValueError, match=r"'revenue_multiple' was renamed 'gross_profit_multiple'"):
        AcquisitionConfig.model_validate({"revenue_multiple": 3.0})


def test_registry_and_factory() -> None:
    assert ACQUISITION_STRATEGIES == {"value_over_price": ValueOverPriceStrategy}
    strategy = make_acquisition_strategy(PARAMS)
    assert type(strategy) is ValueOverPriceStrategy
    assert strategy.params is PARAMS


def test_unknown_strategy_names_the_value_and_the_choices() -> None:
    message = r"corporate\.acquisitions\.strategy = 'bogus'.*\(choose from value_over_price\)"
    with pytest.raises(ValueError, match=message):
        make_acquisition_strategy(AcquisitionConfig(strategy="bogus"))
