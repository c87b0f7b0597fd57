"""Multi-homing measures (market/metrics.py: use_probabilities, probability_at_least, multihoming_shares),
against the binomial closed form, a Monte Carlo of the workload model and hand-made allocations."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from market.metrics import multihoming_shares, probability_at_least, use_probabilities


def test_equal_shares_give_the_binomial_tail() -> None:
    """With M models of equal share and Poisson(n) workloads, each model is used independently with probability
    1 - exp(-n/M) (Poisson thinning), so the count is Binomial(M, 1 - exp(-n/M)): scipy's tail is the answer."""
    for m, n in [(6, 8.0), (10, 3.0), (20, 25.0)]:
        allocation = np.full((1, m), 7.0)
        used = use_probabilities(allocation, np.arange(m), n)
        p = 1.0 - math.exp(-n / m)
        np.testing.assert_allclose(used, p, rtol=1e-14)
        for k in (1, 3, 5):
            assert math.isclose(probability_at_least(used, k)[0], stats.binom.sf(k - 1, m, p), rel_tol=1e-12)


def test_the_count_matches_a_monte_carlo_of_firms_and_workloads() -> None:
    """20,000 simulated firms, each with a Poisson(6) number of workloads drawn over unequal shares: the share
    using 5+ and 3+ distinct models is the computed probability within four standard errors."""
    shares = np.array([0.4, 0.2, 0.15, 0.1, 0.08, 0.05, 0.02])
    rng = np.random.default_rng(11)
    n = 6.0
    counts = rng.poisson(n, 20_000)
    distinct = np.array([np.unique(rng.choice(7, size=c, p=shares)).size if c else 0 for c in counts])
    used = use_probabilities(shares[None, :] * 100.0, np.arange(7), n)
    for k in (3, 5):
        expected = probability_at_least(used, k)[0]
        observed = float(np.mean(distinct >= k))
        se = math.sqrt(expected * (1 - expected) / distinct.size)
        assert abs(observed - expected) < 4 * se, (k, observed, expected)


def test_models_of_one_family_count_once_and_idle_buyers_are_left_out() -> None:
    """Offers 0 and 1 are two models of family 0: as a family they are one event of probability
    1 - exp(-n (a_0 + a_1)); an agent served nothing is not a buying firm."""
    allocation = np.array([[30.0, 30.0, 40.0], [0.0, 0.0, 0.0]])
    family = np.array([0, 0, 1])
    used = use_probabilities(allocation, family, 2.0)
    np.testing.assert_allclose(used[0], [1 - math.exp(-1.2), 1 - math.exp(-0.8)], rtol=1e-14)
    np.testing.assert_array_equal(used[1], [0.0, 0.0])
    # Two families can never make three: the 3+ share is exactly 0; weights count buying firms only.
    five, three = multihoming_shares(allocation, np.arange(3), family, np.array([2.0, 5.0]), 2.0)
    assert three == 0.0
    assert five == 0.0
    assert all(math.isnan(x) for x in multihoming_shares(np.zeros((2, 3)), np.arange(3), family, np.ones(2), 2.0))


def test_shares_are_firm_weighted() -> None:
    """Agent 0 (1 firm) spreads over 6 models, agent 1 (3 firms) buys one model: P(5+) of agent 1 is 0, so the
    share is P_0(5+) / 4 by hand."""
    allocation = np.array([[1.0] * 6, [0.0, 0.0, 0.0, 0.0, 0.0, 9.0]])
    p = 1.0 - math.exp(-10.0 / 6.0)
    five, _ = multihoming_shares(allocation, np.arange(6), np.arange(6), np.array([1.0, 3.0]), 10.0)
    assert math.isclose(five, stats.binom.sf(4, 6, p) / 4.0, rel_tol=1e-12)
