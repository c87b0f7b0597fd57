"""Figures of learning-agent experiments (the Calvano et al. 2020 replication).

Built as :class:`~matplotlib.figure.Figure` objects, not through ``pyplot`` (as :mod:`analysis.plots`).
"""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure


def impulse_response_figure(impulse: pd.DataFrame, nash_price: float, monopoly_price: float) -> Figure:
    """Average prices after a one-period forced deviation of firm 1 (Calvano et al. 2020, figure 4's pattern).

    Args:
        impulse: Long frame with ``session``, ``tau``, ``firm``, ``price`` (tau 0: before the deviation,
            tau 1: firm 1 deviates, then all play their learned strategies).
        nash_price: Bertrand-Nash price (dashed line).
        monopoly_price: Monopoly price (dotted line).
    """
    deviator = impulse[impulse["firm"] == 1].groupby("tau")["price"].mean()
    rivals = impulse[impulse["firm"] != 1].groupby("tau")["price"].mean()
    sessions = impulse["session"].nunique()
    fig = Figure(figsize=(7.0, 4.2))
    ax = fig.add_subplot()
    ax.plot(deviator.index, deviator.to_numpy(), marker="o", label="firm 1 (deviates at tau = 1)")
    ax.plot(rivals.index, rivals.to_numpy(), marker="s", label="rivals (mean)")
    ax.axhline(nash_price, color="grey", linestyle="--", linewidth=1, label="Bertrand-Nash price")
    ax.axhline(monopoly_price, color="grey", linestyle=":", linewidth=1, label="monopoly price")
    ax.set_xlabel("period after the deviation (tau)")
    ax.set_ylabel("price (mean over sessions)")
    ax.set_title(f"Forced one-period deviation: punishment and return ({sessions} sessions)")
    ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    return fig
