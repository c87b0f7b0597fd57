"""The ``q_learning`` pricing strategy (agents/qlearning.py ``QLearningStrategy``) on hand-built views.

References: the grid, state coarsening, update rule and initial tables as documented in docs/ODD.md
("Learning pricing"); the initial tables are checked against the logit demand they are fitted to, computed
here from the logit formula ``s(p) = exp(-b p) / (exp(-b p) + K)``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from agents.pricing import PRICING_STRATEGIES, PricingView, QLearningStrategy, make_pricing_strategy
from market.config import QLearningPricing

B, K, VOLUME, COST = 4.0, 0.02, 10.0, 1.0
"""A homogeneous logit: price sensitivity over mu B, everything else's weight K, volume and unit cost."""


def logit_demand(price: np.ndarray | float) -> np.ndarray:
    weight = np.exp(-B * np.asarray(price, dtype=float))
    return VOLUME * weight / (weight + K)


def make_view(last_price: float = 1.5, rival_price: float = math.nan, observed: bool = True,
              **changes: Any) -> PricingView:
    demand = float(logit_demand(last_price))
    share = demand / VOLUME
    values: dict[str, Any] = {
        "step": 3, "unit_cost": np.array([COST]), "last_price": np.array([last_price]),
        "demand": np.array([demand]), "own_slope": np.array([B * VOLUME * share * (1 - share)]),
        "beta": np.array([B]), "recapture_owner": np.zeros(1), "recapture_industry": np.zeros(1),
        "capacity": np.array([math.inf]), "last_profit": 0.0, "cash": 1e6, "credit_limit": 0.0,
        "utility_form": "linear", "observed": observed, "rival_price": np.array([rival_price]),
    }
    values.update(changes)
    values.setdefault("marginal_cost", values["unit_cost"])
    return PricingView(**values)


def strategy(seed: int = 0, **params: Any) -> QLearningStrategy:
    built = make_pricing_strategy(QLearningPricing(**params), rng=np.random.default_rng(seed))
    assert isinstance(built, QLearningStrategy)
    return built


def test_registered_and_needs_a_generator() -> None:
    assert PRICING_STRATEGIES["q_learning"] is QLearningStrategy
    with pytest.raises(ValueError, match="random generator"):
        make_pricing_strategy(QLearningPricing())


def test_first_price_is_a_uniform_grid_draw() -> None:
    s = strategy(grid_points=5, min_markup=0.0, max_markup=1.0)
    price = s.decide(make_view(observed=False))
    assert price[0] in COST * (1 + np.linspace(0, 1, 5))
    draws = {float(strategy(seed=k, grid_points=5).decide(make_view(observed=False))[0]) for k in range(40)}
    assert len(draws) == 5  # every grid price is reachable


@pytest.mark.parametrize(("rival_price", "expected_bin"), [(math.nan, 5), (0.5, 0), (3.0, 2), (3.2, 3), (9.0, 4)])
def test_rival_price_bins_by_markup_over_own_cost(rival_price: float, expected_bin: int) -> None:
    # unit cost 2, markups 0..1 in 5 bins of width 0.2: price 3.0 is markup 0.5 -> bin 2; 3.2 -> 0.6 -> bin 3
    s = strategy(min_markup=0.0, max_markup=1.0, rival_bins=5)
    s.action = np.array([7])
    state = s.states(make_view(rival_price=rival_price, unit_cost=np.array([2.0])))
    assert state.tolist() == [7 * 6 + expected_bin]


def test_initial_tables_are_discounted_logit_profits() -> None:
    s = strategy(grid_points=9, min_markup=0.0, max_markup=1.0, delta=0.9)
    tables = s.initial_tables(make_view(last_price=1.5))
    prices = COST * (1 + np.linspace(0, 1, 9))
    expected = (prices - COST) * logit_demand(prices) / (1 - 0.9)
    assert tables.shape == (1, 9 * 6, 9)
    np.testing.assert_allclose(tables[0, 0], expected, rtol=1e-9)
    np.testing.assert_allclose(tables[0, -1], expected, rtol=1e-9)


def test_without_exploration_the_second_price_is_the_static_best_grid_price() -> None:
    s = strategy(grid_points=21, min_markup=0.0, max_markup=1.0, beta=50.0)
    s.decide(make_view(observed=False))
    price = s.decide(make_view(last_price=1.5, rival_price=1.5))
    grid = COST * (1 + np.linspace(0, 1, 21))
    assert price[0] == grid[np.argmax((grid - COST) * logit_demand(grid))]


def test_update_follows_the_q_learning_rule() -> None:
    s = strategy(grid_points=5, alpha=0.3, delta=0.8, beta=50.0)
    s.decide(make_view(observed=False))
    state0, action0 = int(s.state[0]), int(s.action[0])
    view = make_view(last_price=1.7, rival_price=1.6)
    q0 = s.initial_tables(view)[0]
    s.decide(view)
    reward = (1.7 - COST) * float(logit_demand(1.7))
    new_state = action0 * 6 + int((0.6 - 0.0) / 1.0 * 5)
    expected = 0.7 * q0[state0, action0] + 0.3 * (reward + 0.8 * q0[new_state].max())
    assert s.q[0, state0, action0] == pytest.approx(expected, rel=1e-12)
    assert int(s.state[0]) == new_state


def test_same_generator_same_prices() -> None:
    def path(seed: int) -> list[float]:
        s = strategy(seed=seed, beta=0.2)
        out = [float(s.decide(make_view(observed=False))[0])]
        for t in range(30):
            out.append(float(s.decide(make_view(last_price=out[-1], rival_price=1.4 + 0.01 * t))[0]))
        return out

    assert path(4) == path(4)
    assert path(4) != path(5)


def test_markup_range_must_be_ordered() -> None:
    with pytest.raises(ValueError, match="max_markup"):
        QLearningPricing(min_markup=0.5, max_markup=0.4)


def test_a_longer_memory_keeps_the_last_months_in_the_state() -> None:
    """With memory_months = 2 the state is code_t + S * code_(t-1), S = grid_points x (rival_bins + 1) = 3 x 3 = 9,
    where code = own grid index x (rival_bins + 1) + rival bin; the table has 9 ** 2 = 81 states."""
    import numpy as np

    from agents.pricing import PricingView
    from market.config import QLearningPricing

    params = QLearningPricing(grid_points=3, rival_bins=2, memory_months=2, beta=50.0, min_markup=0.0, max_markup=1.0)
    strategy = QLearningStrategy(params, rng=np.random.default_rng(0))
    one = np.ones(1)

    def view(rival: float, last: float, observed: bool) -> PricingView:
        return PricingView(step=0, unit_cost=one, marginal_cost=one, last_price=np.array([last]), demand=one,
                           own_slope=one,
                           beta=one, recapture_owner=0 * one, recapture_industry=0 * one,
                           rival_price=np.array([rival]), capacity=10 * one, last_profit=0.0, cash=1.0,
                           credit_limit=0.0, utility_form="linear", observed=observed)

    strategy.decide(view(np.nan, 1.5, False))
    first = int(strategy.codes[0, 0])  # type: ignore[index]
    assert int(strategy.state[0]) == first + 9 * first  # type: ignore[index]
    a1 = int(strategy.action[0])  # type: ignore[index]
    strategy.decide(view(1.9, 1.5, True))  # rival markup 0.9: bin floor(0.9 / 1 * 2) = 1
    assert int(strategy.codes[0, 0]) == a1 * 3 + 1  # type: ignore[index]
    assert int(strategy.state[0]) == (a1 * 3 + 1) + 9 * first  # type: ignore[index]
    assert strategy.q is not None and strategy.q.shape == (1, 81, 3)


def test_a_table_too_large_is_refused_naming_the_key() -> None:
    import pytest

    from market.config import QLearningPricing

    with pytest.raises(ValueError, match="memory_months = 3"):
        QLearningPricing(grid_points=15, rival_bins=5, memory_months=3)
