"""Replication of Calvano, Calzolari, Denicolo and Pastorello (2020): Q-learning agents in the logit game.

``replicate_calvano(settings)`` runs independent learning sessions of the paper's baseline environment
(:mod:`market.logit_game`, learning in :mod:`agents.qlearning`), in this process or as Ray tasks, and returns:

* one row per session: periods to convergence, the converged flag, the length of the limit cycle, each firm's
  price and profit averaged over the cycle that the greedy strategies reach from the final state, and the profit
  gain ``Delta = (pi - pi_N) / (pi_M - pi_N)`` averaged over firms (the paper's measure);
* the impulse response of each session to a one-period forced deviation: from the first state of the limit cycle
  (tau = 0), firm 1 plays the static best response on the grid to its rivals' actions of that period (tau = 1),
  then all play their greedy strategies again;
* a summary: the mean profit gain over converged sessions with its 95% bootstrap interval
  (:func:`analysis.statistics.bootstrap_ci`), the converged share, the mean price and the median periods.

Session ``k`` draws from ``SeedSequence(seed).spawn(sessions)[k]``, so results do not depend on where or in
which order sessions run.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from agents.qlearning import LearningParams, learn, limit_cycle, profit_table, state_actions, state_index
from analysis.statistics import bootstrap_ci
from experiments.outputs import write_file_atomic
from experiments.ray_session import ensure_ray
from market.logit_game import LogitGame

IMPULSE_PERIODS = 25
"""Periods after the deviation recorded in the impulse response."""


@dataclass(frozen=True)
class CalvanoSettings:
    """One replication: the game, the price grid, learning and the number of sessions.

    Attributes:
        firms: Number of firms n.
        sessions: Independent sessions S.
        seed: Root seed; session k uses child k of ``SeedSequence(seed)``.
        grid_points: Prices m on the grid.
        xi: Grid extension beyond Nash and monopoly prices, as a fraction of their distance.
        learning: Q-learning parameters.
        game: Demand and cost (``firms`` is overridden by ``firms``).
    """

    firms: int = 2
    sessions: int = 100
    seed: int = 0
    grid_points: int = 15
    xi: float = 0.1
    learning: LearningParams = field(default_factory=LearningParams)
    game: LogitGame = field(default_factory=LogitGame)

    def __post_init__(self) -> None:
        if not 2 <= self.firms <= 4:
            raise ValueError(f"firms must be between 2 and 4 (each agent's table has m**(n+1) entries), "
                             f"got {self.firms}")
        if self.sessions < 1:
            raise ValueError(f"sessions must be at least 1, got {self.sessions}")
        if self.seed < 0:
            raise ValueError(f"seed must be non-negative, got {self.seed}")
        if self.grid_points < 2:
            raise ValueError(f"grid_points must be at least 2, got {self.grid_points}")
        if self.game.firms != self.firms:
            object.__setattr__(self, "game", LogitGame(self.firms, self.game.quality, self.game.cost,
                                                       self.game.outside_quality, self.game.mu))

    def describe(self) -> dict[str, Any]:
        """The settings as plain data (written to summary.json)."""
        return {"firms": self.firms, "sessions": self.sessions, "seed": self.seed, "grid_points": self.grid_points,
                "xi": self.xi, **asdict(self.learning), "game": asdict(self.game)}


@dataclass(frozen=True)
class Benchmarks:
    """Static benchmarks of the game and the price grid spanning them."""

    nash_price: float
    monopoly_price: float
    nash_profit: float
    monopoly_profit: float
    grid: np.ndarray

    @classmethod
    def of(cls, settings: CalvanoSettings) -> Benchmarks:
        """Nash and monopoly prices by root-finding; grid ``[p_N - xi (p_M - p_N), p_M + xi (p_M - p_N)]``."""
        game = settings.game
        p_n, p_m = game.nash_price(), game.monopoly_price()
        span = settings.xi * (p_m - p_n)
        grid = np.linspace(p_n - span, p_m + span, settings.grid_points)
        return cls(p_n, p_m, game.symmetric_profit(p_n), game.symmetric_profit(p_m), grid)


@dataclass
class Replication:
    """Results of a replication: ``sessions`` and ``impulse`` frames and the ``summary`` dict."""

    sessions: pd.DataFrame
    impulse: pd.DataFrame
    summary: dict[str, Any]


def run_session(settings: CalvanoSettings, index: int) -> dict[str, Any]:
    """Learn in session ``index`` and measure its outcome (a pure function of settings and index).

    Returns:
        ``{"row": {...}, "impulse": prices (IMPULSE_PERIODS + 1, n)}``.
    """
    bench = Benchmarks.of(settings)
    n, m = settings.firms, settings.grid_points
    profits = profit_table(settings.game, bench.grid)
    seed_seq = np.random.SeedSequence(settings.seed, spawn_key=(index,))  # == SeedSequence(seed).spawn(S)[index]
    session = learn(profits, n, m, settings.learning, np.random.default_rng(seed_seq))
    cycle = limit_cycle(session.greedy, session.state, n, m)
    cycle_actions = np.array([state_actions(s, n, m) for s in cycle])
    price = bench.grid[cycle_actions].mean(axis=0)
    profit = profits[cycle].mean(axis=0)
    gain = (profit - bench.nash_profit) / (bench.monopoly_profit - bench.nash_profit)
    row: dict[str, Any] = {"session": index, "firms": n, "periods": session.periods, "converged": session.converged,
                           "cycle_length": len(cycle)}
    row.update({f"price_{i + 1}": float(price[i]) for i in range(n)})
    row.update({f"profit_{i + 1}": float(profit[i]) for i in range(n)})
    row.update({"mean_price": float(price.mean()), "profit_gain": float(gain.mean())})
    return {"row": row, "impulse": bench.grid[deviation_path(session.greedy, cycle[0], profits, n, m)]}


def deviation_path(greedy: np.ndarray, state: int, profits: np.ndarray, n: int, m: int,
                   periods: int = IMPULSE_PERIODS) -> np.ndarray:
    """Actions from ``state`` (tau = 0) when firm 1 deviates once to its static best response (tau = 1).

    At tau = 1 the rivals play their greedy actions for ``state`` and firm 1 the grid action maximizing its
    profit against them; from tau = 2 on everyone plays greedily. Returns actions ``(periods + 1, n)``.
    """
    path = np.empty((periods + 1, n), dtype=np.int64)
    path[0] = state_actions(state, n, m)
    actions = greedy[:, state].copy()
    candidates = np.repeat(actions[None, :], m, axis=0)
    candidates[:, 0] = np.arange(m)
    firm1_profit = profits[[state_index(c, m) for c in candidates], 0]
    actions[0] = int(np.argmax(firm1_profit))
    path[1] = actions
    for tau in range(2, periods + 1):
        current = state_index(path[tau - 1], m)
        path[tau] = greedy[:, current]
    return path


def replicate_calvano(settings: CalvanoSettings, workers: int = 1,
                      on_session: Callable[[int, int], None] | None = None) -> Replication:
    """Run every session (serially for ``workers == 1``, else on a local Ray) and summarize.

    Args:
        settings: The replication.
        workers: Sessions in parallel; 1 runs them in this process.
        on_session: Called with ``(done, total)`` after each session.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    indices = range(settings.sessions)
    if workers == 1:
        outcomes = []
        for k in indices:
            outcomes.append(run_session(settings, k))
            if on_session:
                on_session(k + 1, settings.sessions)
    else:
        outcomes = _run_on_ray(settings, indices, workers, on_session)
    return summarize(settings, outcomes)


def _run_on_ray(settings: CalvanoSettings, indices: Sequence[int], workers: int,
                on_session: Callable[[int, int], None] | None) -> list[dict[str, Any]]:
    import ray

    ensure_ray(workers=workers)  # a private local Ray (experiments.ray_session), started once per process
    remote = ray.remote(run_session).options(num_cpus=1, max_retries=2)
    settings_ref = ray.put(settings)
    pending = {remote.remote(settings_ref, k): k for k in indices}
    results: dict[int, dict[str, Any]] = {}
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        for ref in done:
            results[pending.pop(ref)] = ray.get(ref)
            if on_session:
                on_session(len(results), len(indices))
    return [results[k] for k in indices]


def summarize(settings: CalvanoSettings, outcomes: list[dict[str, Any]]) -> Replication:
    """Session and impulse frames, and the summary (profit gain over converged sessions)."""
    bench = Benchmarks.of(settings)
    sessions = pd.DataFrame([o["row"] for o in outcomes])
    n = settings.firms
    impulse = pd.DataFrame([
        {"session": o["row"]["session"], "tau": tau, "firm": i + 1, "price": float(o["impulse"][tau, i])}
        for o in outcomes for tau in range(o["impulse"].shape[0]) for i in range(n)
    ])
    converged = sessions[sessions["converged"]]
    gains = converged["profit_gain"].to_numpy()
    low, high = bootstrap_ci(gains, seed=settings.seed)
    summary = {
        "profit_gain_mean": float(gains.mean()) if len(gains) else float("nan"),
        "profit_gain_ci95": [low, high],
        "profit_gain_sd": float(gains.std(ddof=1)) if len(gains) > 1 else float("nan"),
        "converged_share": float(sessions["converged"].mean()),
        "mean_price": float(converged["mean_price"].mean()) if len(gains) else float("nan"),
        "periods_median": float(sessions["periods"].median()),
        "sessions": len(sessions),
        "sessions_converged": len(converged),
        "convergence_rule": (f"no greedy action changes for {settings.learning.stable_periods} consecutive periods; "
                             f"sessions stop unconverged at {settings.learning.max_periods} periods; the summary "
                             "statistics average the converged sessions"),
        "benchmarks": {"nash_price": bench.nash_price, "monopoly_price": bench.monopoly_price,
                       "nash_profit": bench.nash_profit, "monopoly_profit": bench.monopoly_profit,
                       "grid": [float(p) for p in bench.grid]},
        "settings": settings.describe(),
    }
    return Replication(sessions=sessions, impulse=impulse, summary=summary)


def write_replication(result: Replication, out: Path) -> list[Path]:
    """Write ``sessions.parquet``, ``impulse.parquet``, ``summary.json`` and ``impulse_response.png`` to ``out``.

    Each file is written to a temporary file in ``out`` and renamed into place; other files in ``out`` are
    left alone. Returns the paths written.
    """
    from analysis.learning_plots import impulse_response_figure

    out.mkdir(parents=True, exist_ok=True)
    writers: dict[str, Callable[[Path], None]] = {
        "sessions.parquet": lambda p: result.sessions.to_parquet(p, index=False),
        "impulse.parquet": lambda p: result.impulse.to_parquet(p, index=False),
        "summary.json": lambda p: p.write_text(json.dumps(result.summary, indent=2, sort_keys=True) + "\n"),
        "impulse_response.png": lambda p: impulse_response_figure(
            result.impulse, **{k: result.summary["benchmarks"][k] for k in ("nash_price", "monopoly_price")},
        ).savefig(p, dpi=120, format="png"),
    }
    paths = [write_file_atomic(out / name, write) for name, write in writers.items()]
    return paths
