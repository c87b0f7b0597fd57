"""Corporate mechanics: deal valuation, deal sequencing under merger control, entry, exit, data flywheel. Pure
functions (merger screens and market definition are in :mod:`market.concentration`)."""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from market.concentration import MergerReview, Screen, review_merger, review_merger_in_markets
from market.config import PROVIDER_KIND_NAMES, EntrantConfig
from market.technology import GenerationTable, tokens_per_gpu_month

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


__all__ = ["MergerReview", "review_merger", "review_merger_in_markets"]  # merger review, re-exported


def enterprise_value(fleet_book_value: float, annual_gross_profit: float, gross_profit_multiple: float) -> float:
    """Enterprise value of a provider's business, $: the higher of its value as a going concern and its GPUs'
    book value, ``EV = max(multiple * max(G, 0), B)`` (a buyer of the business would rather liquidate the fleet
    than run it at a lower value)."""
    return max(max(annual_gross_profit, 0.0) * gross_profit_multiple, fleet_book_value)


def standalone_value(fleet_book_value: float, annual_gross_profit: float, gross_profit_multiple: float,
                     net_cash: float = 0.0) -> float:
    """Equity value of a provider on its own, $: enterprise value plus net cash (cash minus debt),
    ``E = EV + net_cash``; negative when its debt exceeds its business's value."""
    return enterprise_value(fleet_book_value, annual_gross_profit, gross_profit_multiple) + net_cash


def acquisition_terms(
    *,
    fleet_book_value: float,
    annual_gross_profit: float,
    gross_profit_multiple: float,
    net_cash: float,
    synergy: float,
    premium: float,
    distressed: bool,
    distress_discount: float,
) -> tuple[float, float]:
    """Price the acquirer pays for the target's equity and the value it gets, $.

    With the target's fleet book value ``B``, a year's gross profit ``G`` (revenue minus cash costs, before
    depreciation and interest), the multiple ``m`` and net cash ``C`` (cash minus debt; the target's cash and
    debt pass to the acquirer's balance sheet)::

        price = max(max(m G+, B) + C, 0) * (1 + premium) * (1 - distress_discount if distressed)
        value = max(m G+ (1 + synergy), B) + C

    The price is the equity value with a control premium (never below zero: the acquirer may take over the
    debt for nothing); the deal pays when ``value > price``.
    """
    equity = standalone_value(fleet_book_value, annual_gross_profit, gross_profit_multiple, net_cash)
    price = max(equity, 0.0) * (1.0 + premium) * ((1.0 - distress_discount) if distressed else 1.0)
    value = enterprise_value(fleet_book_value, annual_gross_profit * (1.0 + synergy), gross_profit_multiple) + net_cash
    return price, value


def flywheel_gain(cumulative_tokens_mtok: float, scale_mtok: float, learning_rate: float) -> float:
    """Quality gain from the data flywheel: ``learning_rate * ln(1 + cumulative / scale)`` (fraction)."""
    if learning_rate == 0.0 or cumulative_tokens_mtok <= 0.0:
        return 0.0
    return learning_rate * math.log1p(cumulative_tokens_mtok / scale_mtok)


@dataclass(frozen=True)
class Entry:
    """One firm entering this month: the entrant kind (index into ``corporate.entrants``), its name, the
    incumbents' mean margin that signalled entry, and the present value of the profit it expects, $."""

    entrant: int
    name: str
    incumbent_margin: float
    expected_value_usd: float = math.nan


@dataclass(frozen=True)
class EntryEconomics:
    """What an entrant kind expects to earn if it enters now.

    Attributes:
        profit_pool_history: Per month so far, the summed profit of the active providers of each kind, $.
        kind_capacity: Capacity now of the active providers of each kind, Mtok/month.
        entrant_capacity: Capacity an entrant of each ``corporate.entrants`` entry would have now, Mtok/month.
        kind_firms: Number of active providers of each kind now.
    """

    profit_pool_history: Sequence[Mapping[str, float]]
    kind_capacity: Mapping[str, float]
    entrant_capacity: Sequence[float]
    kind_firms: Mapping[str, float]


def annuity_factor(months: int, rate_per_year: float) -> float:
    """Present value of $1 a month for ``months`` months at ``rate_per_year`` (monthly compounding):
    ``a = sum_{t=1..H} (1 + r/12)^-t = (1 - (1 + r/12)^-H) / (r/12)`` (``H`` when ``r = 0``)."""
    i = rate_per_year / 12.0
    return float(months) if i == 0.0 else (1.0 - (1.0 + i) ** -months) / i


def entry_value(*, profit_pool: Sequence[float], kind_capacity: float, entrant_capacity: float, incumbents: int,
                horizon_months: int, rate_per_year: float) -> float:
    """Present value of an entrant's expected profit over its horizon, $.

    Free entry with business stealing (Bresnahan and Reiss 1991; Mankiw and Whinston 1986): the entrant
    expects the incumbents' observed profit pool of its kind, ``P`` = the mean over the recent months of their
    summed monthly profit (revenue minus cash costs, depreciation and interest, at their observed prices and
    margins), shared in proportion to capacity once it has entered::

        V = mean(P) * K_e / (K_kind + K_e) * annuity_factor(H, r)

    with ``K_e`` the entrant's capacity and ``K_kind`` the incumbents'. Where a capacity is unlimited or there
    is none, the pool is shared equally among the ``N`` incumbents and the entrant, ``K_e / (K_kind + K_e)``
    becoming ``1 / (N + 1)``. Months without a profit (NaN) are ignored; with none left the value is NaN (no
    signal).
    """
    values = [x for x in profit_pool if x == x]
    if not values:
        return math.nan
    total = kind_capacity + entrant_capacity
    share = entrant_capacity / total if math.isfinite(total) and total > 0 else 1.0 / (incumbents + 1)
    return float(np.mean(values)) * share * annuity_factor(horizon_months, rate_per_year)


def total_by_kind(values: FloatArray, kind: IntArray) -> dict[str, float]:
    """Sum of ``values`` over the holders of each provider kind (``kind``: index into ``PROVIDER_KIND_NAMES``,
    -1 for holders not counted)."""
    counted = kind >= 0
    totals = np.bincount(kind[counted], weights=np.asarray(values, dtype=np.float64)[counted],
                         minlength=len(PROVIDER_KIND_NAMES))
    return {name: float(t) for name, t in zip(PROVIDER_KIND_NAMES, totals, strict=True)}


def entrant_capacity_mtok(entrant: EntrantConfig, generations: GenerationTable, algorithmic_efficiency: float
                          ) -> float:
    """Capacity an entrant would have now, Mtok/month: its fixed capacity if configured, else
    ``sum_lots gpus * tokens_per_gpu_month(gen) * serving_efficiency * (1 - verification_overhead if it
    verifies as a decentralized operator) * algorithmic_efficiency`` (lots bought new instead of used come as
    equal capacity of the newest generation, so the lots' capacity is what it gets)."""
    cfg = entrant.provider
    if cfg.capacity_mtok_per_month is not None:
        return float(cfg.capacity_mtok_per_month)
    factor = 1.0 - cfg.verification_overhead if cfg.kind == "decentralized" and cfg.verification else 1.0
    throughput = generations.throughput_tokens_per_s
    raw = sum(lot.gpus * float(tokens_per_gpu_month(throughput[generations.index(lot.generation)]))
              for lot in cfg.fleet)
    return raw * cfg.serving_efficiency * factor * algorithmic_efficiency


def plan_entries(entrants: Sequence[EntrantConfig], margin_history: Sequence[Mapping[str, float]], *, step: int,
                 entries_so_far: Mapping[str, int], last_entry_step: Mapping[str, int],
                 taken_names: Collection[str], economics: EntryEconomics | None = None) -> list[Entry]:
    """Free entry (DESIGN.md 3.6): for each entrant kind in order, one firm enters when :func:`entry_is_due`
    on its kind's recorded margins and, given ``economics``, when the present value of its expected profit over
    ``payback_months`` at its cost of capital (:func:`entry_value`) covers its sunk cost; it is named
    ``name_k`` (:func:`unused_name`, ``k`` = its entries so far + 1)."""
    taken, out = set(taken_names), []
    for i, entrant in enumerate(entrants):
        done = entries_so_far.get(entrant.name, 0)
        kind = entrant.provider.kind
        recent = [row[kind] for row in margin_history[-entrant.lookback_months:]]
        if not entry_is_due(step=step, entries_so_far=done, max_entries=entrant.max_entries,
                            last_entry_step=last_entry_step.get(entrant.name), cooldown_months=entrant.cooldown_months,
                            recent_margins=recent, lookback_months=entrant.lookback_months,
                            threshold=entrant.margin_threshold):
            continue
        value = math.nan
        if economics is not None:
            value = entry_value(
                profit_pool=[row[kind] for row in economics.profit_pool_history[-entrant.lookback_months:]],
                kind_capacity=economics.kind_capacity.get(kind, 0.0), entrant_capacity=economics.entrant_capacity[i],
                incumbents=int(economics.kind_firms.get(kind, 0)),
                horizon_months=entrant.payback_months, rate_per_year=entrant.provider.cost_of_capital_per_year)
            if not value >= entrant.sunk_cost_usd:
                continue
        name = unused_name(entrant.name, done + 1, taken)
        taken.add(name)
        out.append(Entry(entrant=i, name=name, incumbent_margin=float(np.nanmean(recent)), expected_value_usd=value))
    return out


def unused_name(stem: str, k: int, taken: Collection[str]) -> str:
    """``stem_k``, or the next ``stem_j`` (j > k) not in ``taken`` (an entrant's name)."""
    while f"{stem}_{k}" in taken:
        k += 1
    return f"{stem}_{k}"


def entry_is_due(*, step: int, entries_so_far: int, max_entries: int, last_entry_step: int | None,
                 cooldown_months: int, recent_margins: list[float], lookback_months: int, threshold: float) -> bool:
    """Whether one more firm of an entrant kind enters this month: fewer than ``max_entries`` so far, none in
    the last ``cooldown_months``, and a full ``lookback_months`` of incumbents' margins that signal entry
    (:func:`entry_is_attractive`)."""
    if entries_so_far >= max_entries:
        return False
    if last_entry_step is not None and step - last_entry_step < cooldown_months:
        return False
    return len(recent_margins) >= lookback_months and entry_is_attractive(recent_margins, threshold)


def entry_is_attractive(recent_margins: list[float], threshold: float) -> bool:
    """Free-entry signal: the mean recent margin of incumbents of a kind exceeds the threshold.

    Months without a measurable margin (no revenue) are ignored; with none left there is no signal.
    """
    values = [m for m in recent_margins if m == m]
    return bool(values) and float(np.mean(values)) > threshold


def interest_on_debt(cash: FloatArray, cost_of_capital_per_year: FloatArray) -> FloatArray:
    """Monthly interest on the debt a balance sheet carries into the month, $: ``max(-cash, 0) * r / 12``."""
    return np.maximum(-np.asarray(cash, dtype=np.float64), 0.0) * cost_of_capital_per_year / 12.0


@dataclass(frozen=True)
class ExitStatus:
    """A provider's distress counters after this month and whether it exits (``reason``: None if it stays)."""

    months_distressed: int
    months_idle: int
    reason: str | None


def exit_status(*, cash: float, credit_limit: float, idle: bool, months_distressed: int, months_idle: int,
                limit: int) -> ExitStatus:
    """Bankruptcy and idle exit (DESIGN.md 3.6).

    A provider is distressed in a month when ``cash < -credit_limit`` and idle when it served nothing and
    holds no GPUs; it goes bankrupt after ``limit`` consecutive distressed months, and leaves after ``limit``
    consecutive idle ones (``reason`` ``"bankrupt"`` or ``"no capacity"``).
    """
    distressed = months_distressed + 1 if cash < -credit_limit else 0
    idled = months_idle + 1 if idle else 0
    reason = "bankrupt" if distressed >= limit else "no capacity" if idled >= limit else None
    return ExitStatus(months_distressed=distressed, months_idle=idled, reason=reason)


def margin_by_kind(revenue: FloatArray, profit: FloatArray, kind: IntArray, n_kinds: int) -> FloatArray:
    """Revenue-weighted profit margin per provider kind (``sum profit / sum revenue`` over holders of the kind;
    ``kind`` is -1 for holders not counted); NaN for a kind without revenue."""
    out = np.full(n_kinds, np.nan)
    for k in range(n_kinds):
        rev = float(revenue[kind == k].sum())
        if rev > 0:
            out[k] = float(profit[kind == k].sum()) / rev
    return out


@dataclass(frozen=True)
class CorporateState:
    """The corporate facts of every holder the planners read (index = holder id; resellers are inactive).

    Attributes:
        active: Providers in the market.
        parent: Holder id of each holder's parent, -1 for none.
        cash: Each holder's cash as its balance sheet shows it (its owner's for a subsidiary), $.
        credit_limit: Credit limit of that balance sheet, $.
        own_cash, own_credit_limit: A subsidiary's own cash and credit limit, which become its balance sheet
            when its owner exits (equal to ``cash`` and ``credit_limit`` for independent holders), $.
        months_distressed, months_idle: Distress counters carried into the month.
        fixed_capacity: Providers whose capacity is configured (never idle).
        last_deal_step: Step of each holder's last acquisition attempt, -1 for never.
    """

    active: NDArray[np.bool_]
    parent: IntArray
    cash: FloatArray
    credit_limit: FloatArray
    own_cash: FloatArray
    own_credit_limit: FloatArray
    months_distressed: IntArray
    months_idle: IntArray
    fixed_capacity: NDArray[np.bool_]
    last_deal_step: IntArray


@dataclass(frozen=True)
class ExitPlan:
    """The month's exits: distress counters per holder after the month, and the closures in order."""

    months_distressed: IntArray
    months_idle: IntArray
    closures: list[tuple[int, str]]


def plan_exits(state: CorporateState, idle: NDArray[np.bool_], limit: int) -> ExitPlan:
    """Which independent providers exit this month (:func:`exit_status`), in holder order.

    A provider that exits frees its subsidiaries, which are then judged as independent providers if they
    come later in the order.

    Args:
        state: Holders' corporate state (only active providers without a parent are judged).
        idle: Whether each holder served nothing and holds no GPUs this month (never with fixed capacity).
        limit: ``corporate.exit_after_months``.
    """
    active, cash, credit_limit = state.active, state.cash.copy(), state.credit_limit.copy()
    judged, parent = active & (state.parent < 0), state.parent.copy()
    distressed, idled = state.months_distressed.copy(), state.months_idle.copy()
    idle = idle & ~state.fixed_capacity
    closures: list[tuple[int, str]] = []
    for h in range(len(judged)):
        if not judged[h]:
            continue
        status = exit_status(cash=float(cash[h]), credit_limit=float(credit_limit[h]), idle=bool(idle[h]),
                             months_distressed=int(distressed[h]), months_idle=int(idled[h]), limit=limit)
        distressed[h], idled[h] = status.months_distressed, status.months_idle
        if status.reason is not None:
            closures.append((h, status.reason))
            freed = np.nonzero(parent == h)[0]
            parent[freed] = -1
            later = freed[freed > h]
            judged[later] = active[later]
            cash[freed], credit_limit[freed] = state.own_cash[freed], state.own_credit_limit[freed]
    return ExitPlan(months_distressed=distressed, months_idle=idled, closures=closures)


@dataclass(frozen=True)
class Deal:
    """A proposed acquisition after merger review."""

    acquirer: int
    target: int
    price_usd: float
    review: MergerReview


def plan_acquisitions(*, acquirers: IntArray, eligible_targets: NDArray[np.bool_], parent: IntArray,
                      owner: IntArray, markets: FloatArray, thresholds: Screen,
                      deal_probability: float, propose: Callable[[int, IntArray], tuple[int, float] | None],
                      draw: Callable[[], float], market_names: Sequence[str] | None = None,
                      min_market_share: float = 0.0) -> list[Deal]:
    """The month's acquisitions, acquirer by acquirer (in the order given).

    Each acquirer that is still independent proposes at most one deal among the eligible targets that are
    still independent (``propose(acquirer, candidates) -> (target, price)`` or None, the acquirer's
    strategy); the deal goes ahead with probability ``deal_probability`` (one ``draw()`` per proposal),
    then merger control reviews it in every relevant market where both parties sell (rows of ``markets``:
    revenue per holder, named by ``market_names``; markets below ``min_market_share`` of all revenue are not
    screened; :func:`market.concentration.review_merger_in_markets`). An allowed deal makes the target a
    subsidiary: later acquirers no longer see it, and later reviews count it with its new owner.
    """
    parent, owner = parent.copy(), owner.copy()
    deals: list[Deal] = []
    for a in acquirers:
        if parent[a] >= 0:
            continue
        candidates = np.nonzero(eligible_targets & (parent < 0) & (np.arange(len(parent)) != a))[0]
        proposal = propose(int(a), candidates)
        if proposal is None or draw() >= deal_probability:
            continue
        target, price = proposal
        review = review_merger_in_markets(markets, owner, int(a), target, thresholds, names=market_names,
                                          min_market_share=min_market_share)
        deals.append(Deal(acquirer=int(a), target=target, price_usd=price, review=review))
        if not review.blocked:
            parent[target] = a
            owner = np.where(owner == target, a, owner)
    return deals
