"""Corporate events of the model: bankruptcy and exit, acquisitions under antitrust, and entry.

:class:`CorporateDynamics` is mixed into the model and runs once a month after investment:

1. **Exit.** An independent provider whose cash stays below ``-credit_limit`` for
   ``corporate.exit_after_months`` consecutive months is bankrupt: all its GPUs go to resellers (or are
   scrapped if there are none), its customers are released, an ``exit`` event is written. A provider that
   has served nothing and holds no GPUs for as long also exits (``detail = "no capacity"``).
2. **Acquisitions.** Each capital-rich acquirer (kinds in ``acquirer_kinds``, not owned by anyone) looks at
   independent targets that are distressed (cash below zero) or small (revenue share below
   ``small_share_threshold``). It prices each with :func:`market.corporate.acquisition_terms` and keeps the
   one with the largest value over price that it can afford; with probability ``deal_probability`` it
   proposes it. The antitrust policy reviews the merger on revenue by ultimate owner
   (:func:`market.corporate.review_merger`); a blocked deal is written as ``merger_blocked``, an allowed one
   as ``acquisition`` with the price, and the target becomes a subsidiary (treasury consolidated, priced
   jointly with its owner's offers by owner-objective best responses, HHI counted by ultimate owner).
3. **Entry.** For each entrant kind, when incumbents of that kind earned a mean margin above
   ``margin_threshold`` over the last ``lookback_months``, one firm enters (at most one per
   ``cooldown_months``, at most ``max_entries``), paying ``sunk_cost_usd``; an ``entry`` event is written.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np

from market.config import PROVIDER_KIND_NAMES
from market.corporate import acquisition_terms, entry_is_attractive, review_merger


class CorporateDynamics:
    """Exit, M&A and entry for :class:`market.model.InferenceMarket` (a mixin)."""

    config: Any
    holders: list[Any]
    step_index: int
    population: Any
    offers: Any
    clearing: Any
    settlement: dict[str, Any]
    corporate_rng: np.random.Generator
    providers: list[Any]
    ledger: Any
    fleet: Any
    record_event: Callable[..., None]
    _sell_to_reseller: Callable[..., int]
    _enter: Callable[..., Any]
    revenue_by_buyer_region_and_holder: Callable[[], np.ndarray]

    def corporate_events(self) -> None:
        """Run the month's exits, acquisitions and entries."""
        self._exits()
        if self.config.corporate.acquisitions.enabled:
            self._acquisitions()
        self._entries()

    # -- exit ----------------------------------------------------------------------------------------------
    def _exits(self) -> None:
        limit = self.config.corporate.exit_after_months
        gone: list[int] = []
        for p in self.providers:
            if not p.active or p.parent is not None:
                continue
            p.months_distressed = p.months_distressed + 1 if p.cash < -p.credit_limit else 0
            idle = self.settlement["served"][p.holder_id] <= 0 and self.fleet.gpus[p.holder_id].sum() <= 0
            fixed = p.config.capacity_mtok_per_month is not None
            p.months_idle = p.months_idle + 1 if idle and not fixed else 0
            if p.months_distressed >= limit:
                self._close(p, reason="bankrupt")
                gone.append(p.holder_id)
            elif p.months_idle >= limit:
                self._close(p, reason="no capacity")
                gone.append(p.holder_id)
        if gone:
            self.population.release_customers_of(gone)

    def _close(self, p: Any, *, reason: str) -> None:
        """Liquidate a provider: GPUs to resellers, subsidiaries freed, provider inactive."""
        held = self.ledger.units_by_holder_generation(len(self.holders))[p.holder_id]
        units = int(held.sum())
        for g in np.nonzero(held)[0]:
            self._sell_to_reseller(p, None, generation=int(g), region=None, event="gpu_liquidation")
        for sub in self.providers:
            if sub.parent is p:
                sub.parent = None
        p.active = False
        p.remove()  # leaves model.agents; it stays in model.providers and in the outputs
        detail = json.dumps({"reason": reason, "cash_usd": round(p.cash, 2), "gpus_liquidated": units})
        self.record_event("exit", holder=p.holder_id, amount_usd=p.cash, detail=detail)

    # -- acquisitions --------------------------------------------------------------------------------------
    def _acquisitions(self) -> None:
        cfg = self.config.corporate.acquisitions
        thresholds = self.config.corporate.antitrust.thresholds
        revenue, owner = self._offer_revenue_by_owner()
        total = revenue.sum()
        for acquirer in self.providers:
            if not acquirer.active or acquirer.parent is not None or acquirer.kind not in cfg.acquirer_kinds:
                continue
            if self.step_index - getattr(acquirer, "last_deal_step", -10**9) < cfg.cooldown_months:
                continue
            best = self._best_target(acquirer, revenue, owner, total)
            if best is None or self.corporate_rng.uniform() >= cfg.deal_probability:
                continue
            target, price = best
            review = self._review(revenue, owner, acquirer.holder_id, target.holder_id, thresholds)
            detail = json.dumps({"pre_hhi": round(review.pre_hhi, 3), "post_hhi": round(review.post_hhi, 3),
                                 "delta_hhi": round(review.delta, 3),
                                 "policy": self.config.corporate.antitrust.policy})
            acquirer.last_deal_step = self.step_index
            if review.blocked:
                self.record_event("merger_blocked", holder=acquirer.holder_id, counterparty=target.holder_id,
                                  amount_usd=price, detail=detail)
                continue
            acquirer.cash -= price
            target.consolidate_into(acquirer)
            owner = np.where(owner == target.holder_id, acquirer.holder_id, owner)
            self.record_event("acquisition", holder=acquirer.holder_id, counterparty=target.holder_id,
                              amount_usd=price, detail=detail)

    def _offer_revenue_by_owner(self) -> tuple[np.ndarray, np.ndarray]:
        """This month's revenue per provider (holder id) and each provider's ultimate owner id."""
        n = len(self.holders)
        revenue = np.asarray(self.settlement["revenue"], dtype=np.float64)[:n]
        owner = np.arange(n)
        for p in self.providers:
            owner[p.holder_id] = p.owner_id
        return revenue, owner

    def _review(self, revenue: np.ndarray, owner: np.ndarray, acquirer: int, target: int,
                thresholds: tuple[float, float] | None) -> Any:
        """Merger review on the whole market, or on every buyer region (blocked if any region fails)."""
        if self.config.corporate.antitrust.scope == "global":
            return review_merger(revenue, owner, acquirer, target, thresholds)
        by_region = self.revenue_by_buyer_region_and_holder()
        reviews = [review_merger(r, owner, acquirer, target, thresholds) for r in by_region]
        worst = max(reviews, key=lambda rv: (rv.blocked, rv.delta))
        return worst

    def _best_target(self, acquirer: Any, revenue: np.ndarray, owner: np.ndarray,
                     total: float) -> tuple[Any, float] | None:
        cfg = self.config.corporate.acquisitions
        s = self.settlement
        book = self.ledger.book_value_per_gpu(self.step_index) * self.ledger.view("count")
        holder = self.ledger.view("holder")
        best: tuple[float, Any, float] | None = None
        for t in self.providers:
            if not t.active or t.parent is not None or t is acquirer or t.kind not in cfg.target_kinds:
                continue
            share = revenue[t.holder_id] / total if total > 0 else 0.0
            distressed = t.cash < 0
            if not (distressed or share < cfg.small_share_threshold):
                continue
            gross = 12.0 * (s["revenue"][t.holder_id] - s["cash_cost"][t.holder_id])
            fleet_value = float(book[holder == t.holder_id].sum())
            price, value = acquisition_terms(
                fleet_book_value=fleet_value, annual_gross_profit=gross, revenue_multiple=cfg.revenue_multiple,
                synergy=cfg.synergy, premium=cfg.premium, distressed=distressed,
                distress_discount=cfg.distress_discount,
            )
            affordable = acquirer.cash + acquirer.credit_limit - price > 0
            if value > price and affordable and (best is None or value - price > best[0]):
                best = (value - price, t, price)
        return None if best is None else (best[1], best[2])

    # -- entry ---------------------------------------------------------------------------------------------
    def _unused_name(self, stem: str, k: int) -> str:
        """``stem_k``, or the next ``stem_j`` (j > k) that no provider or reseller is called."""
        taken = {h.name for h in self.holders}
        while f"{stem}_{k}" in taken:
            k += 1
        return f"{stem}_{k}"

    def record_margins(self) -> None:
        """Remember this month's revenue-weighted margin by provider kind (the entry signal)."""
        s = self.settlement
        history = self.__dict__.setdefault("_margin_history", [])
        row: dict[str, float] = {}
        for kind in PROVIDER_KIND_NAMES:
            ids = [p.holder_id for p in self.providers if p.active and p.kind == kind]
            rev = float(s["revenue"][ids].sum()) if ids else 0.0
            row[kind] = float(s["profit"][ids].sum()) / rev if rev > 0 else float("nan")
        history.append(row)

    def _entries(self) -> None:
        history: list[dict[str, float]] = self.__dict__.get("_margin_history", [])
        counts: dict[str, int] = self.__dict__.setdefault("_entry_counts", {})
        last: dict[str, int] = self.__dict__.setdefault("_last_entry", {})
        for entrant in self.config.corporate.entrants:
            done = counts.get(entrant.name, 0)
            cooling = self.step_index - last.get(entrant.name, -(10**9)) < entrant.cooldown_months
            if done >= entrant.max_entries or cooling:
                continue
            recent = [row[entrant.provider.kind] for row in history[-entrant.lookback_months:]]
            if len(recent) < entrant.lookback_months or not entry_is_attractive(recent, entrant.margin_threshold):
                continue
            counts[entrant.name] = done + 1
            last[entrant.name] = self.step_index
            provider = self._enter(entrant, self._unused_name(entrant.name, done + 1))
            margin = float(np.nanmean(recent))
            self.record_event("entry", holder=provider.holder_id, amount_usd=entrant.sunk_cost_usd,
                              detail=json.dumps({"incumbent_margin": round(margin, 4), "kind": provider.kind}))

