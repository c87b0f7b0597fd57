"""The symmetric logit pricing game of Calvano, Calzolari, Denicolo and Pastorello (2020, AER 110(10)).

``n`` firms with quality index ``a``, marginal cost ``c`` and an outside good of index ``a0`` face one buyer of
unit mass with logit demand of scale ``mu``::

    q_i = exp((a - p_i)/mu) / (sum_j exp((a - p_j)/mu) + exp(a0/mu)),     pi_i = (p_i - c) q_i

From ``d pi_i / d p_i = 0`` the symmetric Bertrand-Nash price solves ``p = c + mu / (1 - s(p))`` and, from
``d sum_j pi_j / d p_i = 0``, the joint-profit (monopoly) price solves ``p = c + mu / (1 - n s(p))``, with
``s(p)`` each firm's share when all charge ``p``. Both are found here by bracketing root-finding (Brent); the
paper's baseline (n = 2, a = 2, c = 1, a0 = 0, mu = 0.25) gives 1.47293 and 1.92498, profits 0.22293 and
0.33749 per firm.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import brentq

from market.clearing import logit_shares

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class LogitGame:
    """Parameters of the symmetric logit pricing game.

    Attributes:
        firms: Number of firms n (>= 1).
        quality: Quality index a of every firm's product.
        cost: Marginal cost c.
        outside_quality: Quality index a0 of the outside good.
        mu: Logit scale (horizontal differentiation, > 0).
    """

    firms: int = 2
    quality: float = 2.0
    cost: float = 1.0
    outside_quality: float = 0.0
    mu: float = 0.25

    def __post_init__(self) -> None:
        if self.firms < 1:
            raise ValueError(f"firms must be at least 1, got {self.firms}")
        if self.mu <= 0:
            raise ValueError(f"mu must be positive, got {self.mu}")

    def profits(self, prices: FloatArray) -> FloatArray:
        """Per-firm profits ``(p_i - c) q_i`` for price profiles, shape ``(..., n)`` -> ``(..., n)``."""
        prices = np.asarray(prices, dtype=np.float64)
        flat = prices.reshape(-1, self.firms)
        outside = np.full(flat.shape[0], self.outside_quality)
        shares, _ = logit_shares(self.quality - flat, outside, self.mu)
        return ((flat - self.cost) * shares).reshape(prices.shape)

    def symmetric_share(self, price: float) -> float:
        """Each firm's share when all n firms charge ``price``."""
        inside = np.exp((self.quality - price) / self.mu)
        return float(inside / (self.firms * inside + np.exp(self.outside_quality / self.mu)))

    def nash_price(self) -> float:
        """Symmetric Bertrand-Nash price: root of ``p - c - mu / (1 - s(p))``."""
        return self._solve(lambda p: p - self.cost - self.mu / (1.0 - self.symmetric_share(p)))

    def monopoly_price(self) -> float:
        """Joint-profit-maximizing symmetric price: root of ``p - c - mu / (1 - n s(p))``."""
        return self._solve(lambda p: p - self.cost - self.mu / (1.0 - self.firms * self.symmetric_share(p)))

    def symmetric_profit(self, price: float) -> float:
        """Each firm's profit when all charge ``price``."""
        return (price - self.cost) * self.symmetric_share(price)

    def _solve(self, condition) -> float:  # type: ignore[no-untyped-def]
        # At p = c the condition is -mu / (1 - .) < 0; it rises with p and is positive by c + mu + a - a0 + 50 mu
        # (shares vanish there), so [c, that] brackets the unique root.
        high = self.cost + abs(self.quality - self.outside_quality) + 50.0 * self.mu + 1.0
        return float(brentq(condition, self.cost, high, xtol=1e-14, rtol=1e-14, maxiter=500))
