"""Multi-homing measures (market/metrics.py: use_probabilities, probability_at_least, multihoming_shares),
against the binomial closed form, a Monte Carlo of the workload model and hand-made allocations."""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.typing import NDArray
from scipy import stats

from market.metrics import (
    multihoming_shares,
    multihoming_shares_reference,
    probability_at_least,
    use_probabilities,
)
from market.row_passes import multihoming_pass


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


@st.composite
def allocations(draw: st.DrawFn) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.int64],
                                          NDArray[np.float64], float]:
    """A random allocation of up to 30 agents x 14 offers (idle agents, empty offers, tiny and huge amounts),
    offers grouped into models and models into families (sometimes one model per family), firm weights and a
    workload mean."""
    n_ent, n_off = draw(st.integers(1, 30)), draw(st.integers(1, 14))
    amount = st.one_of(st.just(0.0), st.floats(1e-9, 1e6))
    allocation = draw(hnp.arrays(np.float64, (n_ent, n_off), elements=amount))
    family = draw(hnp.arrays(np.int64, n_off, elements=st.integers(0, 5)))
    tier = draw(hnp.arrays(np.int64, n_off, elements=st.integers(0, draw(st.integers(0, 2)))))
    weight = draw(hnp.arrays(np.float64, n_ent, elements=st.floats(0.5, 50.0)))
    return allocation, family * 3 + tier, family * 7 + 3, weight, draw(st.floats(0.1, 40.0))


@settings(max_examples=150, deadline=None)
@given(allocations())
def test_the_compiled_pass_is_the_numpy_reference(case: tuple[Any, ...]) -> None:
    """The compiled row pass (market.row_passes.multihoming_pass) gives the numpy reference's shares to 1e-12
    relative, NaN where nobody buys."""
    fused = multihoming_shares(*case)
    reference = multihoming_shares_reference(*case)
    for a, b in zip(fused, reference, strict=True):
        assert (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-300), (a, b)


def test_the_compiled_pass_gives_the_same_bits_at_one_and_two_threads() -> None:
    """Rows are independent: the pass at 2 threads returns exactly what it returns at 1."""
    rng = np.random.default_rng(3)
    allocation = rng.exponential(1.0, (2_000, 40)) * (rng.random((2_000, 40)) < 0.6)
    model, family_of_model = np.arange(40) % 17, np.arange(17) % 9
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = multihoming_pass(allocation, model, family_of_model, 9, 6.0, 5, 3)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        two = multihoming_pass(allocation, model, family_of_model, 9, 6.0, 5, 3)
    finally:
        numba.set_num_threads(before)
    for a, b in zip(one, two, strict=True):
        assert a.tobytes() == b.tobytes()
