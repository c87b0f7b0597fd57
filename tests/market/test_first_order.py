"""The compiled first-order solver (market.first_order) against the numpy reference of the same iteration."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from market.first_order import first_order_price, first_order_prices, first_order_prices_reference


@settings(max_examples=200, deadline=None)
@given(cost=st.floats(0.0, 5.0), g0=st.floats(-3.0, 3.0), share=st.floats(0.01, 0.99),
       beta=st.floats(0.2, 20.0), log_form=st.booleans())
def test_compiled_first_order_price_is_the_numpy_solver(cost: float, g0: float, share: float, beta: float,
                                                        log_form: bool) -> None:
    # The compiled one-offer solver against market.pricing's vectorized one on the same condition: both find the
    # root of the same monotone function, so they agree to the Newton tolerance (1e-13 in x).
    form = "log" if log_form else "linear"
    log_odds = float(np.log((1.0 - share) / share))
    max_price = 1e3 * max(cost, 1.0)
    reference = first_order_prices_reference(np.array([cost]), np.array([g0]), np.array([np.exp(log_odds)]),
                                             np.array([beta]), form, np.array([max_price]))[0]
    compiled = first_order_price(cost, g0, log_odds, beta, log_form, max_price)
    assert compiled == pytest.approx(reference, rel=1e-11, abs=1e-12)


def test_compiled_first_order_price_with_the_cap_at_the_cost_is_the_cap() -> None:
    assert first_order_price(2.0, 0.0, 0.0, 3.0, True, 2.0) == 2.0
    assert first_order_price(2.0, 0.0, 0.0, 3.0, True, 1.5) == 1.5



@settings(max_examples=100, deadline=None)
@given(cost=st.lists(st.floats(0.0, 5.0), min_size=1, max_size=6), data=st.data(), log_form=st.booleans())
def test_compiled_prices_of_many_offers_are_the_numpy_solver_of_all_at_once(cost: list[float], data: st.DataObject,
                                                                          log_form: bool) -> None:
    # The vectorized reference iterates every offer until all have converged; the compiled loop stops each at its
    # own root: the same roots to the Newton tolerance.
    n = len(cost)
    g0 = np.array(data.draw(st.lists(st.floats(-3.0, 3.0), min_size=n, max_size=n)))
    share = np.array(data.draw(st.lists(st.floats(0.01, 0.99), min_size=n, max_size=n)))
    beta = np.array(data.draw(st.lists(st.floats(0.2, 20.0), min_size=n, max_size=n)))
    c = np.array(cost)
    odds = (1.0 - share) / share
    max_price = 1e3 * np.maximum(c, 1.0)
    form = "log" if log_form else "linear"
    reference = first_order_prices_reference(c, g0, odds, beta, form, max_price)
    compiled = first_order_prices(c, g0, np.log(odds), beta, log_form, max_price)
    np.testing.assert_allclose(compiled, reference, rtol=1e-11, atol=1e-12)


def test_monopoly_price_of_a_logit_offer_is_the_closed_form() -> None:
    # Linear utility, one offer, outside share 1 - s: the monopoly price solves (p - c) beta (1 - s(p)) = 1. With
    # c = 1, beta = 2 and s(p0 = 1) = 1/2 (K = 1, g0 = 1): (p - 1) 2 / (1 + exp(-2 (p - 1))) = 1, i.e.
    # y = p - 1 solves 2y = 1 + exp(-2y): y = 0.6392...(Lambert W: y = (1 + W(e^-1)) / 2, W(e^-1) = 0.27846454).
    y = (1.0 + 0.2784645427610738) / 2.0
    assert first_order_prices(np.array([1.0]), np.array([1.0]), np.array([0.0]), np.array([2.0]), False,
                              np.array([1e3]))[0] == pytest.approx(1.0 + y, rel=1e-12)
