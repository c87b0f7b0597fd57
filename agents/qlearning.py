"""Q-learning pricing (Calvano, Calzolari, Denicolo and Pastorello 2020, AER 110(10)).

Each agent keeps a table ``Q_i(s, a)`` over states ``s`` (last period's actions of all agents, memory one) and its
own actions ``a`` (indices into a price grid). In period ``t`` it explores with probability
``eps_t = exp(-beta t)`` (a uniformly random action) and otherwise plays its greedy action ``argmax_a Q_i(s, a)``;
after all agents act and earn ``pi_i``, the visited entry is updated::

    Q_i(s, a_i) <- (1 - alpha) Q_i(s, a_i) + alpha (pi_i + delta max_a' Q_i(s', a'))

with ``s'`` the new action profile. Tables start at the discounted payoff against uniformly randomizing rivals,
``Q_i0(s, a_i) = mean_{a_-i} pi_i(a_i, a_-i) / (1 - delta)`` (the paper's initialization), and the initial state
is drawn uniformly. A session has converged when no agent's greedy action has changed in any state for
``stable_periods`` consecutive periods (only the visited state's greedy action can change in a period, so this is
checked there); ``max_periods`` caps a session that never settles.

**Random draws.** Every draw comes from a ``numpy.random.Generator`` (seeded from a ``SeedSequence``): the
driver draws one uniform ``u`` per agent and period, in chunks, and passes them to the compiled kernel.
``u < eps_t`` means "explore", and then ``floor(m u / eps_t)`` is the action (uniform on the grid, since
``u / eps_t`` is uniform on [0, 1) given ``u < eps_t``). Nothing touches numpy's or numba's global random state,
so a session is a pure function of its seed, in any process.

**Speed.** The period loop is compiled with numba. The greedy action of every state is kept in an array
updated with the table (ties go to the lowest index, as ``numpy.argmax``), so ``max_a' Q_i(s', a')`` is one
lookup.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit
from numpy.typing import NDArray

from market.logit_game import LogitGame

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

CHUNK_PERIODS = 1 << 15
"""Periods simulated per call of the compiled kernel (one block of uniforms drawn per call)."""


@dataclass(frozen=True)
class LearningParams:
    """Parameters of Q-learning (defaults: the paper's baseline).

    Attributes:
        alpha: Learning rate.
        beta: Exploration decay: ``eps_t = exp(-beta t)``.
        delta: Discount factor.
        stable_periods: Periods without a change of any greedy action that mark convergence (paper: 100,000).
        max_periods: Cap on a session's length (the paper: 10^9; see docs/calvano.md for the one used).
    """

    alpha: float = 0.15
    beta: float = 4e-6
    delta: float = 0.95
    stable_periods: int = 100_000
    max_periods: int = 100_000_000

    def __post_init__(self) -> None:
        if not 0.0 < self.alpha <= 1.0:
            raise ValueError(f"alpha must be in (0, 1], got {self.alpha}")
        if self.beta < 0.0:
            raise ValueError(f"beta must be non-negative, got {self.beta}")
        if not 0.0 <= self.delta < 1.0:
            raise ValueError(f"delta must be in [0, 1), got {self.delta}")
        if self.stable_periods < 1 or self.max_periods < 1:
            raise ValueError("stable_periods and max_periods must be positive")


@dataclass(frozen=True)
class Session:
    """The end of one learning session.

    Attributes:
        q: Final Q tables, shape ``(n, m**n, m)``.
        greedy: Greedy action per agent and state, shape ``(n, m**n)``.
        state: Final state (action-profile index).
        periods: Periods played.
        converged: Whether the convergence rule was met before the cap.
    """

    q: FloatArray
    greedy: IntArray
    state: int
    periods: int
    converged: bool


def state_index(actions: IntArray, m: int) -> int:
    """Index of an action profile: ``sum_i a_i m**(n-1-i)`` (agent 0 most significant, C order)."""
    index = 0
    for a in actions:
        index = index * m + int(a)
    return index


def state_actions(state: int, n: int, m: int) -> IntArray:
    """Action profile of a state index (inverse of :func:`state_index`)."""
    return np.array(np.unravel_index(state, (m,) * n), dtype=np.int64)


def profit_table(game: LogitGame, prices: FloatArray) -> FloatArray:
    """Profits of every action profile, shape ``(m**n, n)``, rows in :func:`state_index` order.

    Args:
        game: The pricing game (its ``firms`` is n).
        prices: The price grid (m) shared by all agents.
    """
    n, m = game.firms, len(prices)
    actions = np.indices((m,) * n).reshape(n, -1).T
    return game.profits(np.asarray(prices, dtype=np.float64)[actions])


def initial_q(profits: FloatArray, n: int, m: int, delta: float) -> FloatArray:
    """The paper's initial tables: ``Q_i0(s, a_i) = mean_{a_-i} pi_i(a_i, a_-i) / (1 - delta)`` for every s."""
    q = np.empty((n, m**n, m))
    for i in range(n):
        payoff = profits[:, i].reshape((m,) * n)
        others = tuple(j for j in range(n) if j != i)
        against_uniform = payoff.mean(axis=others) / (1.0 - delta)
        q[i] = against_uniform[None, :]
    return q


def learn(
    profits: FloatArray, n: int, m: int, params: LearningParams, rng: np.random.Generator,
    q: FloatArray | None = None,
) -> Session:
    """Run one session until convergence or the cap.

    Args:
        profits: Profit table ``(m**n, n)`` from :func:`profit_table`.
        n: Agents.
        m: Actions per agent.
        params: Learning parameters.
        rng: The session's generator: draws the initial state, then one uniform per agent and period.
        q: Initial tables (default: :func:`initial_q`).
    """
    q = initial_q(profits, n, m, params.delta) if q is None else q.copy()
    greedy = np.argmax(q, axis=2).astype(np.int64)
    state = state_index(rng.integers(0, m, size=n), m)
    t, stable = 0, 0
    done = False
    while not done and t < params.max_periods:
        chunk = min(CHUNK_PERIODS, params.max_periods - t)
        uniforms = rng.random((chunk, n))
        state, t, stable, done = _learn_chunk(
            q, greedy, profits, uniforms, state, t, stable, n, m,
            params.alpha, params.beta, params.delta, params.stable_periods,
        )
    return Session(q=q, greedy=greedy, state=int(state), periods=int(t), converged=bool(done))


@njit(cache=True)
def _learn_chunk(q, greedy, profits, uniforms, state, t, stable, n, m, alpha, beta, delta,  # type: ignore[no-untyped-def]
                 stable_periods):  # pragma: no cover - compiled
    """Play ``len(uniforms)`` periods (or until convergence); returns ``(state, t, stable, converged)``."""
    actions = np.empty(n, dtype=np.int64)
    for k in range(uniforms.shape[0]):
        eps = math.exp(-beta * t)
        nxt = 0
        for i in range(n):
            u = uniforms[k, i]
            if u < eps:
                a = int(u / eps * m)
                if a >= m:
                    a = m - 1
            else:
                a = greedy[i, state]
            actions[i] = a
            nxt = nxt * m + a
        changed = False
        for i in range(n):
            a = actions[i]
            target = profits[nxt, i] + delta * q[i, nxt, greedy[i, nxt]]
            old = q[i, state, a]
            value = (1.0 - alpha) * old + alpha * target
            q[i, state, a] = value
            g = greedy[i, state]
            if a == g:
                if value >= old:
                    continue
                best = a
                for b in range(m):  # the greedy entry fell: find the new argmax (lowest index on ties)
                    if q[i, state, b] > q[i, state, best] or (q[i, state, b] == q[i, state, best] and b < best):
                        best = b
                if best != g:
                    greedy[i, state] = best
                    changed = True
            elif value > q[i, state, g] or (value == q[i, state, g] and a < g):
                greedy[i, state] = a
                changed = True
        t += 1
        stable = 0 if changed else stable + 1
        state = nxt
        if stable >= stable_periods:
            return state, t, stable, True
    return state, t, stable, False


def limit_cycle(greedy: IntArray, state: int, n: int, m: int) -> list[int]:
    """States visited when all agents play greedily from ``state``, from the first repeated state on.

    Play is deterministic on a finite state space, so the path enters a cycle; the cycle's states (action
    profiles) are returned in order of play.
    """
    seen: dict[int, int] = {}
    path: list[int] = []
    while state not in seen:
        seen[state] = len(path)
        path.append(state)
        state = state_index(greedy[:, state], m)
    return path[seen[state]:]


def greedy_step(greedy: IntArray, state: int, m: int) -> int:
    """Next state when every agent plays its greedy action in ``state``."""
    return state_index(greedy[:, state], m)
