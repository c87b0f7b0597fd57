"""Queueing latency against closed forms (market.latency).

Sources: M/M/1 mean wait in queue ``W_q = rho / (mu - lambda)`` (Kleinrock 1975, Queueing Systems vol. 1,
eq. 3.26 with Little's law); M/D/1 Pollaczek-Khinchine mean wait ``W_q = rho tau / (2 (1 - rho))`` (Kleinrock
1975, eq. 5.76 with zero service variance); Kingman (1961), "The single server queue in heavy traffic".
"""

from __future__ import annotations

import numpy as np
import pytest

from market.latency import (
    kingman_wait,
    latency_disutility,
    network_latency_ms,
    pool_utilization,
    serving_latency_ms,
)


@pytest.mark.parametrize("arrival_rate", [0.1, 0.5, 0.8, 0.9])
def test_kingman_with_exponential_times_is_the_mm1_wait(arrival_rate: float) -> None:
    mu = 2.0  # services per second
    rho = arrival_rate / mu
    expected = rho / (mu - arrival_rate)
    assert float(kingman_wait(rho, 1.0 / mu, 1.0, 1.0, 0.99)) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("rho", [0.2, 0.5, 0.75])
def test_kingman_with_deterministic_service_is_the_md1_wait(rho: float) -> None:
    tau = 300.0
    assert float(kingman_wait(rho, tau, 1.0, 0.0, 0.99)) == pytest.approx(rho * tau / (2.0 * (1.0 - rho)), rel=1e-12)


def test_serving_latency_adds_the_wait_to_the_base_and_clips_utilization() -> None:
    base = np.array([600.0, 120.0, 300.0])
    rho = np.array([0.5, 0.0, 1.2])  # the last beyond capacity: clipped at 0.9
    got = serving_latency_ms(base, rho, 1.0, 1.0, 0.9)
    np.testing.assert_allclose(got, [600.0 + 600.0, 120.0, 300.0 + 300.0 * 9.0], rtol=1e-12)


def test_kingman_rejects_a_bad_max_utilization() -> None:
    with pytest.raises(ValueError, match="max_utilization"):
        kingman_wait(0.5, 1.0, max_utilization=1.0)


def test_network_latency_is_local_in_the_buyers_region_and_remote_elsewhere() -> None:
    got = network_latency_ms(np.array([0, 1]), np.array([0, 1, 1]), np.array([20.0, 30.0]), np.array([150.0, 90.0]))
    np.testing.assert_array_equal(got, [[20.0, 150.0, 150.0], [90.0, 30.0, 30.0]])


def test_pool_utilization_sums_capacity_units() -> None:
    served = np.array([10.0, 40.0, 5.0])  # pool 0: 10 frontier + 40 small (weight 1/15); pool 1: 5 units
    got = pool_utilization(served, np.array([1.0, 1.0 / 15.0, 1.0]), np.array([0, 0, 1]), np.array([20.0, np.inf]))
    np.testing.assert_allclose(got, [(10.0 + 40.0 / 15.0) / 20.0, 0.0])


def test_latency_disutility_is_weight_times_seconds() -> None:
    np.testing.assert_allclose(latency_disutility(np.array([0.0, 2.0]), np.array([500.0, 1500.0])),
                               [[0.0, 0.0], [1.0, 3.0]])
