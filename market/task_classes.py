"""Task classes and capacity pools of the clearing, and their algebra in factored form. Pure functions.

**Task classes.** An enterprise ``e`` in routing group ``g_e`` splits its volume ``V_e`` into task classes,
``V[e,k] = V_e mix[g_e,k]``; class ``k`` may only use the offers with ``eligible[g_e,k,o]``. With ``S``, ``S0``
the single-class logit shares and outside share (``market.clearing.logit_shares``), the class shares are the
logit restricted to the eligible offers and the outside option (normalisation cancels)::

    den[e,k]     = sum_o S[e,o] A[g_e,k,o] + S0[e]           A = eligible as 0/1
    s[e,k,o]     = S[e,o] A[g_e,k,o] / den[e,k]
    s0[e,k]      = S0[e] / den[e,k]

Nothing of size E x K x O is built: with a row factor ``a[e,k]`` (volume per class over ``den``, say) and an
offer column ``h[o]``, the two products every pass needs are, per routing group ``g`` (rows ``E_g``)::

    column sums:  sum_{e,k} a[e,k] S[e,o] A[g,k,o] = sum_k (a_g^T S_g)[k,o] A[g,k,o]      (K x E_g by E_g x O)
    row sums:     sum_o S[e,o] A[g,k,o] h[o]       = (S_g (A_g * h)^T)[e,k]               (E_g x O by O x K)

**Capacity pools.** Offers share capacity in pools (a provider's GPUs in a region across its tiers). An offer's
Mtok weigh ``w_o`` capacity units (1 / the tier's throughput multiplier), and a pool ``p`` holds ``C_p`` units.
Pool fill ``f_p = min(1, C_p / sum_{o in p} w_o D_o)``; every offer of the pool is served the fraction
``f_o = f_{pool(o)}``; an offer takes re-offered volume while its pool has room.

**Rationing by class** (:func:`ration_by_class`): the first round serves ``s[e,k,o] V[e,k] f_o``; the volume a
class could not get, ``r[e,k] = V[e,k] sum_o s[e,k,o] (1 - f_o)``, is re-offered within its class to the offers
whose pool still has room and the outside option, ``r[e,k] S[e,o] A[g_e,k,o] / (sum_{o' open} S[e,o']
A[g_e,k,o'] + S0[e])``, and rationed again on the pools' remaining capacity, for ``rounds`` rounds. Every round
``t`` serves ``S[e,o] A[g_e,k,o] a_t[e,k] h_t[o]``, so the E x O allocation is ``S * sum_t a_t A h_t``, built once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]
Rows = slice | IntArray


@dataclass(frozen=True)
class CapacityPools:
    """Offers that share capacity: the clearing rations pools, not offers.

    Attributes:
        pool: Pool id of each offer, 0..P-1 (O).
        weight: Capacity units one Mtok of the offer uses (1 / tier throughput multiplier), > 0 (O).
        capacity: Capacity units per pool this step, ``inf`` for unlimited (P). A unit is one Mtok of the
            reference (frontier) model.
    """

    pool: IntArray
    weight: FloatArray
    capacity: FloatArray

    @classmethod
    def per_offer(cls, capacity: FloatArray) -> CapacityPools:
        """One pool per offer with weight 1: today's market, offers rationed one by one."""
        capacity = np.asarray(capacity, dtype=np.float64)
        return cls(pool=np.arange(len(capacity), dtype=np.int64), weight=np.ones(len(capacity)), capacity=capacity)

    def checked(self, n_offers: int) -> CapacityPools:
        """These pools as float/int arrays, after checking them against ``n_offers`` offers.

        Raises:
            ValueError: Naming the field that does not fit.
        """
        pool = np.asarray(self.pool, dtype=np.int64)
        weight = np.asarray(self.weight, dtype=np.float64)
        capacity = np.asarray(self.capacity, dtype=np.float64)
        if pool.shape != (n_offers,) or weight.shape != (n_offers,):
            raise ValueError(f"pools.pool and pools.weight need one entry per offer ({n_offers})")
        if n_offers and (pool.min() < 0 or pool.max() >= len(capacity)):
            raise ValueError(f"pools.pool must lie in 0..{len(capacity) - 1}")
        if np.any(~(weight > 0)) or not np.all(np.isfinite(weight)):
            raise ValueError("pools.weight must be positive and finite")
        if np.any(capacity < 0) or np.any(np.isnan(capacity)):
            raise ValueError("pools.capacity must be non-negative")
        return CapacityPools(pool=pool, weight=weight, capacity=capacity)

    def fill(self, offer_demand: FloatArray, capacity: FloatArray) -> tuple[FloatArray, FloatArray]:
        """``(pool fill (P), capacity units taken (P))`` when offers ask ``offer_demand`` Mtok of ``capacity``."""
        load = np.bincount(self.pool, weights=self.weight * offer_demand, minlength=len(capacity))
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            ratio = np.clip(np.where(load > capacity, capacity / load, 1.0), 0.0, 1.0)
        return ratio, load * ratio


@dataclass(frozen=True)
class TaskClasses:
    """How each routing group splits its volume into task classes, and which offers may serve each class.

    Attributes:
        group: Routing group of each enterprise (E); the model uses ``segment * n_regions + region``.
        mix: Share of a group's volume in each class (G x K); rows sum to 1, unused classes 0.
        eligible: Whether offer ``o`` may serve class ``k`` of group ``g`` (G x K x O).
    """

    group: IntArray
    mix: FloatArray
    eligible: BoolArray

    @classmethod
    def single(cls, n_enterprises: int, n_offers: int) -> TaskClasses:
        """One group, one class, every offer eligible: today's market."""
        return cls(group=np.zeros(n_enterprises, dtype=np.int64), mix=np.ones((1, 1)),
                   eligible=np.ones((1, 1, n_offers), dtype=bool))

    @property
    def n_classes(self) -> int:
        """K."""
        return int(self.mix.shape[1])

    def checked(self, n_enterprises: int, n_offers: int) -> TaskClasses:
        """These classes after checking their shapes against the market.

        Raises:
            ValueError: Naming the field that does not fit.
        """
        group = np.asarray(self.group, dtype=np.int64)
        mix = np.asarray(self.mix, dtype=np.float64)
        eligible = np.asarray(self.eligible, dtype=bool)
        if group.shape != (n_enterprises,):
            raise ValueError(f"classes.group needs one entry per enterprise ({n_enterprises})")
        if mix.ndim != 2 or eligible.shape != (*mix.shape, n_offers):
            raise ValueError(f"classes.eligible must be G x K x O = {(*mix.shape, n_offers)}")
        if n_enterprises and (group.min() < 0 or group.max() >= mix.shape[0]):
            raise ValueError(f"classes.group must lie in 0..{mix.shape[0] - 1}")
        if np.any(mix < 0) or not np.allclose(mix.sum(axis=1), 1.0, rtol=0.0, atol=1e-9):
            raise ValueError("classes.mix rows must be non-negative and sum to 1")
        return TaskClasses(group=group, mix=mix, eligible=eligible)


def group_rows(group: IntArray) -> list[tuple[int, Rows]]:
    """Rows of each routing group: slices when every group is one contiguous block of rows (as when buyers are
    stored region by region, segment by segment), index arrays otherwise."""
    n = len(group)
    if n == 0:
        return []
    starts = np.concatenate(([0], np.flatnonzero(np.diff(group)) + 1))
    ids = group[starts]
    if len(np.unique(ids)) == len(ids):
        ends = np.append(starts[1:], n)
        return [(int(g), slice(int(a), int(b))) for g, a, b in zip(ids, starts, ends, strict=True)]
    return [(int(g), np.flatnonzero(group == g)) for g in np.unique(group)]


@dataclass(frozen=True)
class ClassAlgebra:
    """The factored products of an E x O share matrix with the classes' per-group O x K eligibility."""

    classes: TaskClasses
    blocks: list[tuple[int, Rows]]
    eligible: FloatArray  # G x K x O as 0/1

    @classmethod
    def of(cls, classes: TaskClasses) -> ClassAlgebra:
        """The algebra of ``classes``."""
        return cls(classes=classes, blocks=group_rows(classes.group),
                   eligible=classes.eligible.astype(np.float64))

    def row_sums(self, matrix: FloatArray, columns: FloatArray) -> FloatArray:
        """``out[e,k,j] = sum_o matrix[e,o] A[g_e,k,o] columns[o,j]`` (E x K x J) for columns O x J."""
        n_classes, n_cols = self.eligible.shape[1], columns.shape[1]
        out = np.zeros((matrix.shape[0], n_classes, n_cols))
        for g, rows in self.blocks:
            weights = (self.eligible[g][:, :, None] * columns[None, :, :]).transpose(1, 0, 2)  # O x K x J
            out[rows] = (matrix[rows] @ weights.reshape(len(columns), -1)).reshape(-1, n_classes, n_cols)
        return out

    def column_sums(self, matrix: FloatArray, row_factor: FloatArray) -> FloatArray:
        """``out[o] = sum_{e,k} row_factor[e,k] matrix[e,o] A[g_e,k,o]`` (O) for a row factor E x K."""
        out = np.zeros(matrix.shape[1])
        for g, rows in self.blocks:
            out += np.einsum("ko,ko->o", row_factor[rows].T @ matrix[rows], self.eligible[g])
        return out

    def denominators(self, shares: FloatArray, outside_share: FloatArray) -> FloatArray:
        """``den[e,k] = sum_o S[e,o] A[g_e,k,o] + S0[e]`` (E x K)."""
        return self.row_sums(shares, np.ones((shares.shape[1], 1)))[:, :, 0] + outside_share[:, None]

    def class_volume(self, volume: FloatArray) -> FloatArray:
        """``V[e,k] = V_e mix[g_e,k]`` (E x K)."""
        return volume[:, None] * self.classes.mix[self.classes.group]

    def expand(self, matrix: FloatArray, row_factors: list[FloatArray], col_factors: list[FloatArray]) -> FloatArray:
        """``matrix[e,o] * sum_t sum_k row_factors[t][e,k] A[g_e,k,o] col_factors[t][o]`` (E x O)."""
        out = np.zeros_like(matrix)
        rows_all = np.concatenate(row_factors, axis=1)  # E x (T K)
        for g, rows in self.blocks:
            cols = np.concatenate([self.eligible[g] * h[None, :] for h in col_factors], axis=0)  # (T K) x O
            out[rows] = rows_all[rows] @ cols
        out *= matrix
        return out


TINY: float = 1e-100
"""Class denominators below this are 0: a class whose eligible offers and outside option together carry less than
this share of the buyer's logit weight has no choice at positive probability, and its volume goes unserved. (The
factored slopes divide by ``den^2``; with volumes up to 1e100 Mtok nothing overflows above this bound. It binds
only near the lowest logit scale, where utilities a few tens of units apart flush weights to zero.)"""


def over(numerator: FloatArray, denominator: FloatArray) -> FloatArray:
    """``numerator / denominator`` where the denominator is above :data:`TINY`, 0 elsewhere."""
    positive = denominator > TINY
    return np.where(positive, numerator / np.where(positive, denominator, 1.0), 0.0)


def split_square_weight(weight: FloatArray, shares: FloatArray, class_volume: FloatArray, den: FloatArray,
                        beta: FloatArray, eligible: FloatArray, group: IntArray) -> tuple[FloatArray, FloatArray]:
    """The weight ``w_ek = beta_e V_ek / den_ek^2`` of the sums over products of class shares
    (``sum_{e,k} w_ek S_ei A_gki S_ej A_gkj = sum_{e,k} beta_e V_ek s_eki s_ekj``), with its overflowing cells
    taken out.

    When an enterprise's logit shares of a class's eligible offers and of the outside option are all below about
    1e-154 (rivals priced near zero under log utility take the rest), ``V / den^2`` overflows although every class
    share ``s_eki = S_ei A_gki / den_ek`` is at most 1, and ``inf x 0`` would turn the sums into NaN. Those cells get
    weight 0 here and come back as rows ``t = sqrt(beta_e V_ek) S_e A_gk / den_ek`` (one per cell), so that
    ``sum_rows t_i t_j`` adds their terms computed without overflow; every other cell keeps its weight bit for bit.

    Args:
        weight: ``w`` as computed (E x K).
        shares: ``S`` (E x O).
        class_volume: ``V_ek`` (E x K).
        den: ``den_ek`` (E x K).
        beta: ``beta_e`` (E).
        eligible: ``A`` (G x K x O).
        group: ``g_e`` (E).

    Returns:
        ``w`` with the overflowing cells 0, and their rows ``t`` (n x O; n = 0 when nothing overflows).
    """
    bad = ~np.isfinite(weight)
    if not bad.any():
        return weight, np.zeros((0, shares.shape[1]))
    rows, ks = np.nonzero(bad)
    root = np.sqrt(beta[rows] * class_volume[rows, ks]) / den[rows, ks]
    return np.where(bad, 0.0, weight), shares[rows] * eligible[group[rows], ks] * root[:, None]


def class_outside_shares(shares: FloatArray, outside_share: FloatArray, classes: TaskClasses) -> FloatArray:
    """Outside share within each class, ``s0[e,k] = S0[e] / den[e,k]`` (E x K; 1 where the class has no option)."""
    den = ClassAlgebra.of(classes).denominators(shares, outside_share)
    return np.where(den > TINY, outside_share[:, None] / np.where(den > TINY, den, 1.0), 1.0)


def class_posted_price(shares: FloatArray, outside_share: FloatArray, price: FloatArray, classes: TaskClasses,
                       fallback: FloatArray) -> FloatArray:
    """Share-weighted posted price over a buyer's classes, ``sum_{k,o} V_ek s_eko p_o / sum_{k,o} V_ek s_eko``
    (E; ``fallback`` where the buyer would buy nothing)."""
    algebra = ClassAlgebra.of(classes)
    weight = over(classes.mix[classes.group], algebra.denominators(shares, outside_share))
    stats = algebra.row_sums(shares, np.column_stack([price, np.ones_like(price)]))
    spend, tokens = (weight * stats[:, :, 0]).sum(axis=1), (weight * stats[:, :, 1]).sum(axis=1)
    return np.where(tokens > 1e-12, spend / np.maximum(tokens, 1e-300), fallback)


@dataclass(frozen=True)
class ClassRationing:
    """Rationing by class and pool in factored form (per-buyer sums over classes, per-class detail E x K)."""

    offer_demand: FloatArray
    served_by_offer: FloatArray
    served: FloatArray
    spend: FloatArray
    inside: FloatArray
    served_by_class: FloatArray
    rationed_none: bool
    algebra: ClassAlgebra
    row_factors: list[FloatArray]
    col_factors: list[FloatArray]

    def allocation(self, shares: FloatArray) -> FloatArray:
        """Tokens served per enterprise and offer, summed over classes (E x O)."""
        return self.algebra.expand(shares, self.row_factors, self.col_factors)


def ration_by_class(shares: FloatArray, outside_share: FloatArray, volume: FloatArray, price: FloatArray,
                    rounds: int, classes: TaskClasses, pools: CapacityPools) -> ClassRationing:
    """Proportional rationing of pools and ``rounds`` re-offer rounds within each class (module docstring)."""
    algebra = ClassAlgebra.of(classes)
    den = algebra.denominators(shares, outside_share)
    scale = over(algebra.class_volume(volume), den)  # a_0[e,k] = V[e,k] / den[e,k]
    offer_demand = algebra.column_sums(shares, scale)
    pool_fill, used = pools.fill(offer_demand, pools.capacity)
    fill = pool_fill[pools.pool]
    open_offers = fill == 1.0
    stats = algebra.row_sums(shares, np.column_stack([fill * price, fill, 1.0 - fill, open_offers]))
    inside = scale * (stats[:, :, 1] + stats[:, :, 2])
    spend, served, residual = scale * stats[:, :, 0], scale * stats[:, :, 1], scale * stats[:, :, 2]
    open_mass = stats[:, :, 3]
    served_by_offer = offer_demand * fill
    rows, cols = [scale], [fill]
    rationed_none = bool(np.all(open_offers))
    if not rationed_none:
        remaining = np.maximum(pools.capacity - used, 0.0)
        for _ in range(rounds):
            if not open_offers.any() or not np.any(residual > 0.0):
                break
            scale = over(residual, open_mass + outside_share[:, None])
            round_demand = algebra.column_sums(shares, scale) * open_offers
            round_pool_fill, round_used = pools.fill(round_demand, remaining)
            round_fill = round_pool_fill[pools.pool]
            taken = open_offers * round_fill
            served_by_offer = served_by_offer + round_demand * round_fill
            remaining = np.maximum(remaining - round_used, 0.0)
            next_open = open_offers & (round_fill == 1.0)
            stats = algebra.row_sums(shares, np.column_stack([taken * price, taken, open_offers * (1.0 - round_fill),
                                                              next_open]))
            spend = spend + scale * stats[:, :, 0]
            served = served + scale * stats[:, :, 1]
            residual, open_mass = scale * stats[:, :, 2], stats[:, :, 3]
            rows.append(scale)
            cols.append(taken)
            open_offers = next_open
    return ClassRationing(offer_demand=offer_demand, served_by_offer=served_by_offer, served=served.sum(axis=1),
                          spend=spend.sum(axis=1), inside=inside.sum(axis=1), served_by_class=served,
                          rationed_none=rationed_none, algebra=algebra, row_factors=rows, col_factors=cols)
