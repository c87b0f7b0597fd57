"""Q-learning pricing (agents/qlearning.py) and the logit game it plays (market/logit_game.py).

References:
* Calvano, Calzolari, Denicolo and Pastorello (2020), AER 110(10), baseline n = 2, a = 2, c = 1, a0 = 0,
  mu = 0.25: Bertrand-Nash price 1.47293 and monopoly price 1.92498, profits 0.22293 and 0.33749
  (../shared/data/stylized-facts.md).
* Hand calculation, n = 3: at p = 2 every exponent is 0, so s = 1/(3 + 1) = 1/4 and
  c + mu / (1 - 3 s) = 1 + 0.25 / 0.25 = 2: the monopoly price is exactly 2, with profit (2 - 1)/4 = 0.25.
* The update rule is checked against a plain-Python transcription of the paper's algorithm fed the same uniforms.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from agents.qlearning import (
    LearningParams,
    _learn_chunk,
    initial_q,
    learn,
    limit_cycle,
    profit_table,
    state_actions,
    state_index,
)
from market.logit_game import LogitGame


def test_baseline_benchmarks_match_the_paper() -> None:
    game = LogitGame(firms=2)
    p_n, p_m = game.nash_price(), game.monopoly_price()
    assert p_n == pytest.approx(1.47293, abs=5e-6)
    assert p_m == pytest.approx(1.92498, abs=5e-6)
    assert game.symmetric_profit(p_n) == pytest.approx(0.22293, abs=5e-6)
    assert game.symmetric_profit(p_m) == pytest.approx(0.33749, abs=5e-6)


def test_three_firm_monopoly_price_is_two_by_hand() -> None:
    game = LogitGame(firms=3)
    assert game.monopoly_price() == pytest.approx(2.0, abs=1e-12)
    assert game.symmetric_profit(2.0) == pytest.approx(0.25, abs=1e-12)
    assert game.nash_price() < game.monopoly_price()


def test_profits_follow_the_logit_formula() -> None:
    game = LogitGame(firms=2)
    p = np.array([1.6, 1.8])
    weights = np.exp((2.0 - p) / 0.25)
    expected = (p - 1.0) * weights / (weights.sum() + 1.0)
    np.testing.assert_allclose(game.profits(p), expected, rtol=1e-13)


def test_profit_table_rows_are_action_profiles_in_state_order() -> None:
    game = LogitGame(firms=3)
    grid = np.array([1.3, 1.5, 1.7, 1.9])
    table = profit_table(game, grid)
    assert table.shape == (4**3, 3)
    for state in (0, 7, 38, 63):
        actions = state_actions(state, 3, 4)
        assert state_index(actions, 4) == state
        np.testing.assert_allclose(table[state], game.profits(grid[actions]), rtol=1e-13)


def test_initial_q_is_discounted_payoff_against_uniform_rivals() -> None:
    game = LogitGame(firms=2)
    grid = np.linspace(1.4, 2.0, 5)
    table = profit_table(game, grid)
    q = initial_q(table, 2, 5, delta=0.95)
    for a in range(5):
        firm1 = np.mean([game.profits(grid[[a, b]])[0] for b in range(5)]) / 0.05
        firm2 = np.mean([game.profits(grid[[b, a]])[1] for b in range(5)]) / 0.05
        assert np.allclose(q[0, :, a], firm1) and np.allclose(q[1, :, a], firm2)


def reference_learning(q, profits, uniforms, state, n, m, alpha, beta, delta):  # type: ignore[no-untyped-def]
    """The paper's algorithm written out plainly: argmax and max recomputed from the table every period."""
    changes = []
    for t, draws in enumerate(uniforms):
        eps = math.exp(-beta * t)
        actions = [int(u / eps * m) if u < eps else int(np.argmax(q[i, state])) for i, u in enumerate(draws)]
        nxt = state_index(np.array(actions), m)
        before = [int(np.argmax(q[i, state])) for i in range(n)]
        for i in range(n):
            q[i, state, actions[i]] = (1 - alpha) * q[i, state, actions[i]] + alpha * (
                profits[nxt, i] + delta * q[i, nxt].max())
        changes.append(before != [int(np.argmax(q[i, state])) for i in range(n)])
        state = nxt
    return q, state, changes


def test_compiled_kernel_matches_the_plain_algorithm() -> None:
    n, m = 2, 5
    game = LogitGame(firms=n)
    profits = profit_table(game, np.linspace(1.4, 2.0, m))
    q0 = initial_q(profits, n, m, 0.95)
    uniforms = np.random.default_rng(7).random((4000, n))
    expected_q, expected_state, changes = reference_learning(q0.copy(), profits, uniforms, 3, n, m, 0.15, 1e-3, 0.95)
    q = q0.copy()
    greedy = np.argmax(q, axis=2).astype(np.int64)
    state, t, stable, done = _learn_chunk(q, greedy, profits, uniforms, 3, 0, 0, n, m, 0.15, 1e-3, 0.95, 10**9)
    np.testing.assert_array_equal(q, expected_q)
    np.testing.assert_array_equal(greedy, np.argmax(q, axis=2))
    assert (state, t, done) == (expected_state, 4000, False)
    last_change = max(k for k, changed in enumerate(changes) if changed)
    assert stable == 4000 - 1 - last_change


def test_session_is_a_function_of_its_seed_and_converges() -> None:
    game = LogitGame(firms=2)
    profits = profit_table(game, np.linspace(1.43, 1.97, 15))
    params = LearningParams(beta=4e-5, stable_periods=10_000)
    a = learn(profits, 2, 15, params, np.random.default_rng(11))
    b = learn(profits, 2, 15, params, np.random.default_rng(11))
    c = learn(profits, 2, 15, params, np.random.default_rng(12))
    np.testing.assert_array_equal(a.q, b.q)
    assert (a.periods, a.state, a.converged) == (b.periods, b.state, True)
    assert not np.array_equal(a.q, c.q)


def test_cap_stops_an_unconverged_session() -> None:
    profits = profit_table(LogitGame(firms=2), np.linspace(1.43, 1.97, 15))
    session = learn(profits, 2, 15, LearningParams(max_periods=50_000), np.random.default_rng(0))
    assert session.periods == 50_000 and not session.converged


def test_limit_cycle_follows_greedy_play() -> None:
    m = 3
    greedy = np.zeros((2, 9), dtype=np.int64)
    # From (0, 0) both play (1, 2), from (1, 2) they play (2, 1), from (2, 1) back to (1, 2): a 2-cycle.
    greedy[:, state_index(np.array([0, 0]), m)] = [1, 2]
    greedy[:, state_index(np.array([1, 2]), m)] = [2, 1]
    greedy[:, state_index(np.array([2, 1]), m)] = [1, 2]
    cycle = limit_cycle(greedy, 0, 2, m)
    assert cycle == [state_index(np.array([1, 2]), m), state_index(np.array([2, 1]), m)]


def test_bad_learning_parameters_are_named() -> None:
    with pytest.raises(ValueError, match="alpha"):
        LearningParams(alpha=0.0)
    with pytest.raises(ValueError, match="delta"):
        LearningParams(delta=1.0)
    with pytest.raises(ValueError, match="mu"):
        LogitGame(mu=0.0)
