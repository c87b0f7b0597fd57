"""What pricing observes with task classes (market/pricing.py, market/observation.py, market/metrics.py).

Independent answers: finite differences of the clearing's demand with classes (own and cross slopes); the
row-expanded market (each (enterprise, class) a buyer with EXCLUDED ineligible offers) for the overflow and the
consumer surplus; the clearing's own first re-offer round for the overflow with pools.
"""

from __future__ import annotations

import math

import numpy as np

from market.clearing import CapacityPools, TaskClasses, clear_logit_market, logit_shares
from market.clearing_kernel import demand_terms
from market.metrics import consumer_surplus
from market.pricing import demand_slopes, diversion_margin, rationing_overflow
from market.task_classes import class_outside_shares
from tests.market.test_task_classes import expanded_market

MU = 0.6
RNG = np.random.default_rng(11)
N_ENT, N_OFF = 7, 4
QUALITY = RNG.normal(size=(N_ENT, N_OFF))
OUTSIDE = RNG.normal(size=N_ENT)
SENSITIVITY = RNG.uniform(0.5, 1.5, N_ENT)
VOLUME = RNG.uniform(1.0, 10.0, N_ENT)
PRICE = np.array([1.0, 1.5, 0.7, 2.0])
CLASSES = TaskClasses(group=np.array([0, 0, 0, 1, 1, 1, 1]), mix=np.array([[0.3, 0.7], [0.6, 0.4]]),
                      eligible=np.array([[[1, 1, 0, 1], [0, 1, 1, 1]], [[1, 0, 1, 1], [1, 1, 1, 1]]], dtype=bool))


def choice(price: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Linear utility ``q_eo - b_e p_o``."""
    return logit_shares(QUALITY - SENSITIVITY[:, None] * price[None, :], OUTSIDE, MU)


def class_demand(price: np.ndarray) -> np.ndarray:
    shares, outside = choice(price)
    return clear_logit_market(shares, outside, VOLUME, np.full(N_OFF, math.inf), price, classes=CLASSES).offer_demand


def finite_difference(i: int, h: float = 1e-6) -> np.ndarray:
    up, down = PRICE.copy(), PRICE.copy()
    up[i] += h
    down[i] -= h
    return (class_demand(up) - class_demand(down)) / (2 * h)


def test_own_slopes_with_classes_equal_finite_differences_of_the_clearing_demand() -> None:
    shares, outside = choice(PRICE)
    slopes = demand_slopes(shares, VOLUME, SENSITIVITY, MU, PRICE, "linear", classes=CLASSES, outside_share=outside)
    np.testing.assert_allclose(slopes.demand, class_demand(PRICE), rtol=1e-13)
    numeric = np.array([-finite_difference(i)[i] for i in range(N_OFF)])
    np.testing.assert_allclose(slopes.own_slope, numeric, rtol=1e-6)
    single = demand_slopes(shares, VOLUME, SENSITIVITY, MU, PRICE, "linear")
    assert not np.allclose(single.own_slope, slopes.own_slope, rtol=1e-3)  # the classes do change the slope


def test_cross_slopes_with_classes_equal_finite_differences() -> None:
    """``diversion_margin`` with the margin 1 on offer j alone is ``(dD_j/dp_i) / |dD_i/dp_i|`` for i != j."""
    shares, outside = choice(PRICE)
    slopes = demand_slopes(shares, VOLUME, SENSITIVITY, MU, PRICE, "linear", classes=CLASSES, outside_share=outside)
    jacobian = np.array([finite_difference(i) for i in range(N_OFF)])  # row i: dD/dp_i
    for j in range(N_OFF):
        margin = np.eye(N_OFF)[j]
        got = diversion_margin(shares, VOLUME, SENSITIVITY, MU, PRICE, margin, slopes.own_slope,
                               [np.arange(N_OFF)], "linear", classes=CLASSES, outside_share=outside)
        want = np.where(np.arange(N_OFF) == j, 0.0, jacobian[:, j] / slopes.own_slope)
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-9)


def test_overflow_with_classes_equals_the_row_expanded_market() -> None:
    capacity = np.array([3.0, math.inf, 2.0, math.inf])
    shares, outside = choice(PRICE)
    got = rationing_overflow(shares, VOLUME, capacity, classes=CLASSES, outside_share=outside)
    x_utility, x_outside, x_volume = expanded_market(QUALITY - SENSITIVITY[:, None] * PRICE, OUTSIDE, VOLUME, CLASSES)
    x_shares, _ = logit_shares(x_utility, x_outside, MU)
    np.testing.assert_allclose(got, rationing_overflow(x_shares, x_volume, capacity), rtol=1e-12)
    assert got[1] > 0 and got[0] == 0.0


def test_overflow_with_pools_is_the_clearings_first_reoffer_round() -> None:
    """Pool 0 (offers 0, 2, weights 1 and 0.5) is full; pools 1 and 2 are unlimited, so one re-offer round
    serves each open offer its first-choice demand plus the overflow."""
    pools = CapacityPools(pool=np.array([0, 1, 0, 2]), weight=np.array([1.0, 1.0, 0.5, 1.0]),
                          capacity=np.array([4.0, math.inf, math.inf]))
    shares, outside = choice(PRICE)
    overflow = rationing_overflow(shares, VOLUME, np.zeros(N_OFF), classes=CLASSES, pools=pools,
                                  outside_share=outside)
    c = clear_logit_market(shares, outside, VOLUME, None, PRICE, 1, classes=CLASSES, pools=pools)
    open_ = np.array([1, 3])
    np.testing.assert_allclose(c.served[open_], c.offer_demand[open_] + overflow[open_], rtol=1e-12)
    assert np.all(overflow[[0, 2]] == 0.0) and np.all(overflow[open_] > 0)


def test_consumer_surplus_with_classes_equals_the_row_expanded_market() -> None:
    """Linear utility and fixed volume (elasticity 0: no volume-response term), one capacity binding."""
    capacity = np.array([3.0, math.inf, 2.0, math.inf])
    shares, outside = choice(PRICE)
    c = clear_logit_market(shares, outside, VOLUME, capacity, PRICE, 2, classes=CLASSES)
    assert c.served_by_class is not None and c.effective_price is not None
    got = consumer_surplus(served=c.served_by_enterprise, volume=VOLUME, outside_share=outside, mu=MU,
                           price_sensitivity=SENSITIVITY, effective_price=c.effective_price, form="linear",
                           base_volume=VOLUME, reference_price=np.ones(N_ENT), elasticity=np.zeros(N_ENT),
                           served_by_class=c.served_by_class,
                           class_outside_share=class_outside_shares(shares, outside, CLASSES))
    x_utility, x_outside, x_volume = expanded_market(QUALITY - SENSITIVITY[:, None] * PRICE, OUTSIDE, VOLUME, CLASSES)
    x_shares, x_outside_share = logit_shares(x_utility, x_outside, MU)
    x = clear_logit_market(x_shares, x_outside_share, x_volume, capacity, PRICE, 2)
    assert x.effective_price is not None
    k = CLASSES.n_classes
    rows = consumer_surplus(served=x.served_by_enterprise, volume=x_volume, outside_share=x_outside_share, mu=MU,
                            price_sensitivity=np.repeat(SENSITIVITY, k), effective_price=x.effective_price,
                            form="linear", base_volume=x_volume, reference_price=np.ones(N_ENT * k),
                            elasticity=np.zeros(N_ENT * k))
    np.testing.assert_allclose(got, rows.reshape(N_ENT, k).sum(axis=1), rtol=1e-12)



def test_compiled_slopes_are_those_of_class_shares_when_the_logit_shares_are_tiny() -> None:
    """Class shares depend only on ratios: scaling every eligible offer's and the outside option's logit share by
    1e-170, with the rest of the choice on an extra offer no class may use, leaves every class share, and so the
    demand and slopes of the original offers, as they were (the extra offer gets nothing). The compiled
    ``demand_terms`` serves a class whose denominator is positive, and there ``V / den^2`` overflows (den ~ 1e-170):
    before market.task_classes.split_square_weight its slopes were NaN. (The numpy reference treats a denominator
    below ``TINY`` = 1e-100 as a class with no option, so it cannot overflow.)"""
    shares, outside = choice(PRICE)
    tiny = 1e-170
    scaled = np.column_stack([shares * tiny, np.ones(N_ENT)])  # the extra offer's share is 1 - 1e-170 = 1.0
    eligible = np.concatenate([CLASSES.eligible, np.zeros((2, 2, 1), dtype=bool)], axis=2)
    classes = TaskClasses(group=CLASSES.group, mix=CLASSES.mix, eligible=eligible)
    price = np.append(PRICE, 1.0)
    expected = demand_slopes(shares, VOLUME, SENSITIVITY, MU, PRICE, "log", classes=CLASSES, outside_share=outside)
    with np.errstate(all="raise"):  # nothing overflows or turns invalid on the way
        got, overflow = demand_terms(scaled, VOLUME, SENSITIVITY, MU, price, "log", np.full(N_OFF + 1, math.inf),
                                     classes=classes, outside_share=outside * tiny)
    np.testing.assert_allclose(got.demand[:N_OFF], expected.demand, rtol=1e-12)
    np.testing.assert_allclose(got.own_slope[:N_OFF], expected.own_slope, rtol=1e-12)
    np.testing.assert_allclose(got.beta[:N_OFF], expected.beta, rtol=1e-12)
    assert got.demand[N_OFF] == 0.0 and got.own_slope[N_OFF] == 0.0
    assert np.all(overflow == 0.0)
