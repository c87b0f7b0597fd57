"""Consumer surplus after rationing with the volume response (market/metrics.py), against closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import quad

from market.metrics import consumer_surplus, volume_response_surplus


def test_volume_response_surplus_hand_computed() -> None:
    """V0 = 100, p_ref = 1, eps = 2, p = 0.5: int_0.5^1 100 x^-2 dx = 100, minus V0 (p_ref - p) = 50 -> 50;
    eps = 1, p = 0.25: 100 (ln 4 - 0.75) = 63.629."""
    w = volume_response_surplus(np.array([100.0, 100.0]), np.array([0.5, 0.25]), np.ones(2), np.array([2.0, 1.0]))
    assert w[0] == pytest.approx(50.0, rel=1e-12)
    assert w[1] == pytest.approx(100.0 * (math.log(4.0) - 0.75), rel=1e-9)


@pytest.mark.parametrize(("price", "eps"), [(0.01, 0.5), (0.2, 1.1), (3.0, 1.1), (0.05, 1.0), (7.0, 2.5)])
def test_volume_response_surplus_is_the_area_between_curve_and_reference_volume(price: float, eps: float) -> None:
    """Quadrature of ``V(x) - V0`` from ``p`` to ``p_ref``: never negative, on either side of ``p_ref``."""
    v0, p_ref = 40.0, 0.8
    area, _ = quad(lambda x: v0 * (x / p_ref) ** -eps - v0, price, p_ref, epsabs=1e-12, epsrel=1e-12)
    w = volume_response_surplus(np.array([v0]), np.array([price]), np.array([p_ref]), np.array([eps]))[0]
    assert w == pytest.approx(area, rel=1e-8)
    assert w >= 0.0


def test_consumer_surplus_counts_only_tokens_served() -> None:
    """CS = S mu ln(1/s0) p / b + (S / V) W: buyer with V = 400, S = 300 after rationing, s0 = 0.2, mu = 0.5,
    b = 2, realized price 0.5 (log utility), V0 = 100, p_ref = 1, eps = 2 (W = 50 by hand above)."""
    cs = consumer_surplus(served=np.array([300.0]), volume=np.array([400.0]), outside_share=np.array([0.2]), mu=0.5,
                          price_sensitivity=np.array([2.0]), effective_price=np.array([0.5]), form="log",
                          base_volume=np.array([100.0]), reference_price=np.array([1.0]), elasticity=np.array([2.0]))
    assert cs[0] == pytest.approx(300.0 * 0.5 * math.log(5.0) * 0.5 / 2.0 + 0.75 * 50.0, rel=1e-12)


def test_surplus_grows_with_the_log_of_a_price_fall() -> None:
    """eps = 1: spend V p = V0 p_ref is constant, while the volume-response surplus is V0 p_ref (ln(1/r) - 1 + r),
    so surplus per dollar spent rises as prices fall (by ln 185 - 1 = 4.22 for a 185x fall)."""
    r = 1.0 / 185.0
    w = volume_response_surplus(np.array([1.0]), np.array([r]), np.array([1.0]), np.array([1.0]))[0]
    assert w == pytest.approx(math.log(185.0) - 1.0 + r, rel=1e-12)
