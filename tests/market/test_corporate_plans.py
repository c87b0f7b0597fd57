"""Corporate plans as pure functions (market/corporate.py): exits, acquisitions under merger control, interest,
margins by kind and the entry trigger, on hand-made holder arrays.

Expected values follow the rules in the docstrings of market/corporate.py (DESIGN.md 3.6): a provider is
distressed in a month when ``cash < -credit_limit`` and idle when it served nothing; it leaves after ``limit``
consecutive such months. HHIs are worked out by hand as the sum of squared revenue shares in percent; the
change of a merger of shares ``a`` and ``b`` is ``2 a b`` (2023 US merger guidelines: blocked when post-merger
HHI > 1,800 and change > 100). Review of the merger itself is tested in tests/market/test_corporate.py.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from market.corporate import (
    CorporateState,
    Deal,
    ExitPlan,
    ExitStatus,
    annuity_factor,
    entrant_capacity_mtok,
    entry_is_due,
    entry_value,
    exit_status,
    interest_on_debt,
    margin_by_kind,
    plan_acquisitions,
    plan_exits,
    review_merger_in_markets,
)
from market.metrics import MERGER_SCREENS

HHI_2023 = MERGER_SCREENS["hhi_2023"]

# ---------------------------------------------------------------------------------------------------------
# exits
# ---------------------------------------------------------------------------------------------------------


def test_exit_status_counts_consecutive_months() -> None:
    """limit 3: a third distressed month in a row is bankruptcy; cash exactly at -credit_limit is not distress
    (strict), which resets the counter; a third idle month is an idle exit; distress wins when both hit."""
    assert exit_status(cash=-101.0, credit_limit=100.0, idle=False, months_distressed=2, months_idle=0,
                       limit=3) == ExitStatus(3, 0, "bankrupt")
    assert exit_status(cash=-101.0, credit_limit=100.0, idle=False, months_distressed=1, months_idle=0,
                       limit=3) == ExitStatus(2, 0, None)
    assert exit_status(cash=-100.0, credit_limit=100.0, idle=False, months_distressed=2, months_idle=0,
                       limit=3) == ExitStatus(0, 0, None)
    assert exit_status(cash=5.0, credit_limit=0.0, idle=True, months_distressed=0, months_idle=2,
                       limit=3) == ExitStatus(0, 3, "no capacity")
    assert exit_status(cash=-1.0, credit_limit=0.0, idle=True, months_distressed=2, months_idle=2,
                       limit=3) == ExitStatus(3, 3, "bankrupt")


def corporate_state(*, active: list[bool], parent: list[int], cash: list[float], distressed: list[int],
                    idled: list[int], credit: float = 100.0, fixed_capacity: list[bool] | None = None,
                    own_cash: list[float] | None = None) -> CorporateState:
    n = len(active)
    return CorporateState(active=np.array(active), parent=np.array(parent, dtype=np.int64), cash=np.array(cash, float),
                          credit_limit=np.full(n, credit),
                          own_cash=np.array(cash if own_cash is None else own_cash, float),
                          own_credit_limit=np.full(n, credit), months_distressed=np.array(distressed, dtype=np.int64),
                          months_idle=np.array(idled, dtype=np.int64),
                          fixed_capacity=np.zeros(n, bool) if fixed_capacity is None else np.array(fixed_capacity),
                          last_deal_step=np.full(n, -1, dtype=np.int64))


def exits(*, idle: list[bool], limit: int = 3, **state: object) -> ExitPlan:
    return plan_exits(corporate_state(**state), np.array(idle), limit)  # type: ignore[arg-type]


def test_plan_exits_bankruptcy_idle_exit_and_reset() -> None:
    """Credit limit 100, limit 3, five holders:

    0: cash -150, 2 distressed months carried: 3rd month, bankrupt.
    1: cash -150, 1 carried: 2, stays.
    2: cash -50 (not below -100), 2 carried: reset to 0; idle with 2 carried: 3rd idle month, leaves 'no capacity'.
    3: cash 10, busy, counters 1 and 1 carried: both reset to 0.
    4: a reseller (inactive) with cash -500 and counters 2 and 2: not judged, counters unchanged.
    Closures in holder order."""
    plan = exits(active=[True, True, True, True, False], parent=[-1] * 5, cash=[-150, -150, -50, 10, -500],
                 idle=[False, False, True, False, True], distressed=[2, 1, 2, 1, 2], idled=[0, 0, 2, 1, 2])
    assert plan.closures == [(0, "bankrupt"), (2, "no capacity")]
    np.testing.assert_array_equal(plan.months_distressed, [3, 2, 0, 0, 2])
    np.testing.assert_array_equal(plan.months_idle, [0, 0, 3, 0, 2])


def test_a_freed_subsidiary_is_judged_only_when_it_comes_later_in_holder_order() -> None:
    """Holder 1 goes bankrupt (2 distressed months carried, limit 3). Its subsidiaries 0 and 3 are distressed too
    with 2 months carried. Subsidiary 3 comes after its parent: freed, it is judged in the same month and goes
    bankrupt (counter 3). Subsidiary 0 comes before: it was not judged when its turn came, so its counter stays
    at 2 and it does not exit. Holder 2, independent and healthy, has its counter reset. Subsidiary 4 of holder 2
    (which stays) is never judged."""
    plan = exits(active=[True] * 5, parent=[1, -1, -1, 1, 2], cash=[-200, -200, 0, -200, -200],
                 idle=[False] * 5, distressed=[2, 2, 1, 2, 2], idled=[0] * 5)
    assert plan.closures == [(1, "bankrupt"), (3, "bankrupt")]
    np.testing.assert_array_equal(plan.months_distressed, [2, 3, 0, 3, 2])


def test_a_freed_subsidiary_is_judged_on_its_own_books() -> None:
    """A subsidiary's cash joined its owner's treasury when it was bought, so its own books hold 0. When its
    bankrupt owner (holder 0, cash -200 against credit 100) frees it, it is judged on those books: 0 is not below
    -100, so its carried counter (2 months) resets and it stays, although the owner's balance sheet it shared
    until now is distressed."""
    plan = exits(active=[True, True], parent=[-1, 0], cash=[-200, -200], own_cash=[-200, 0.0], idle=[False] * 2,
                 distressed=[2, 2], idled=[0, 0])
    assert plan.closures == [(0, "bankrupt")]
    np.testing.assert_array_equal(plan.months_distressed, [3, 0])


def test_a_freed_subsidiary_that_is_inactive_is_not_judged() -> None:
    """Holder 0 exits idle and frees holders 1 (active, healthy) and 2 (inactive, distressed): 1 is judged and
    its carried counters reset; 2 keeps its counters and does not exit."""
    plan = exits(active=[True, True, False], parent=[-1, 0, 0], cash=[0, 0, -900], idle=[True, False, False],
                 distressed=[0, 1, 2], idled=[2, 1, 0])
    assert plan.closures == [(0, "no capacity")]
    np.testing.assert_array_equal(plan.months_distressed, [0, 0, 2])
    np.testing.assert_array_equal(plan.months_idle, [3, 0, 0])


def test_a_provider_with_fixed_capacity_is_never_idle() -> None:
    """Holders 0 and 1 both served nothing for a third month (2 idle months carried, limit 3); holder 1 has a
    configured capacity, so it is not idle: its counter resets and it stays, while holder 0 leaves."""
    plan = exits(active=[True, True], parent=[-1, -1], cash=[0, 0], idle=[True, True], distressed=[0, 0],
                 idled=[2, 2], fixed_capacity=[False, True])
    assert plan.closures == [(0, "no capacity")]
    np.testing.assert_array_equal(plan.months_idle, [3, 0])


def test_plan_exits_leaves_the_callers_arrays_alone() -> None:
    """The counters and parents of the state passed in are not modified."""
    state = corporate_state(active=[True, True], parent=[-1, 0], cash=[-500, -500], distressed=[2, 2], idled=[0, 0])
    plan_exits(state, np.array([False, False]), 3)
    np.testing.assert_array_equal(state.parent, [-1, 0])
    np.testing.assert_array_equal(state.months_distressed, [2, 2])


# ---------------------------------------------------------------------------------------------------------
# acquisitions
# ---------------------------------------------------------------------------------------------------------

SHARES = np.array([[30.0, 25.0, 20.0, 15.0, 10.0]]) * 1e6  # one market, revenue per holder ($)


class Proposer:
    """An acquisition strategy that proposes a fixed target per acquirer and records the candidates it saw."""

    def __init__(self, targets: dict[int, int | None], price: float = 1e6) -> None:
        self.targets = targets
        self.price = price
        self.seen: dict[int, list[int]] = {}

    def __call__(self, acquirer: int, candidates: np.ndarray) -> tuple[int, float] | None:
        self.seen[acquirer] = [int(c) for c in candidates]
        target = self.targets.get(acquirer)
        return None if target is None else (target, self.price * (acquirer + 1))


class Draws:
    """Deal draws from a fixed list, counting the calls."""

    def __init__(self, values: list[float]) -> None:
        self.values = list(values)
        self.calls = 0

    def __call__(self) -> float:
        self.calls += 1
        return self.values.pop(0)


def acquisitions(propose: Proposer, draw: Draws, *, acquirers: list[int], eligible: list[bool] | None = None,
                 parent: list[int] | None = None, thresholds: tuple[float, float] | None = None,
                 probability: float = 1.0, markets: np.ndarray = SHARES) -> list[Deal]:
    n = markets.shape[1]
    return plan_acquisitions(
        acquirers=np.array(acquirers, dtype=np.int64),
        eligible_targets=np.array([True] * n if eligible is None else eligible),
        parent=np.array([-1] * n if parent is None else parent, dtype=np.int64),
        owner=np.arange(n, dtype=np.int64), markets=markets, thresholds=thresholds,
        deal_probability=probability, propose=propose, draw=draw)


def test_one_deal_draw_per_proposal_only() -> None:
    """Deal probability 0.5. Acquirer 0 proposes target 4 and draws 0.1 < 0.5: the deal goes ahead. Acquirer 1
    proposes nothing and draws nothing. Acquirer 2 proposes target 3 and draws 0.9 >= 0.5: no deal. Two draws in
    all; the deal carries the price proposed (1e6 for acquirer 0) and the review of 30 buying 10
    (2,250 -> 2,850; no merger control: allowed)."""
    draw = Draws([0.1, 0.9])
    deals = acquisitions(Proposer({0: 4, 1: None, 2: 3}), draw, acquirers=[0, 1, 2], probability=0.5)
    assert draw.calls == 2
    assert [(d.acquirer, d.target, d.price_usd, d.review.blocked) for d in deals] == [(0, 4, 1e6, False)]
    assert deals[0].review.pre_hhi == pytest.approx(2250.0, rel=1e-12)
    assert deals[0].review.post_hhi == pytest.approx(2850.0, rel=1e-12)


def test_a_draw_equal_to_the_probability_fails() -> None:
    """The deal goes ahead only when ``draw < probability``: 0.5 against 0.5 is no deal."""
    assert acquisitions(Proposer({0: 4}), Draws([0.5]), acquirers=[0], probability=0.5) == []


def test_a_target_bought_earlier_is_not_offered_to_a_later_acquirer() -> None:
    """Holders 2, 3 and 4 are eligible targets. Acquirer 0 sees [2, 3, 4] and buys 4; acquirer 1 then sees only
    [2, 3]. Acquirer 3 sees [2] (not itself, not 4); it proposes 2, and the deal makes 2 its subsidiary."""
    propose = Proposer({0: 4, 1: None, 3: 2})
    deals = acquisitions(propose, Draws([0.0, 0.0]), acquirers=[0, 1, 3],
                         eligible=[False, False, True, True, True])
    assert propose.seen == {0: [2, 3, 4], 1: [2, 3], 3: [2]}
    assert [(d.acquirer, d.target) for d in deals] == [(0, 4), (3, 2)]


def test_an_acquirer_that_was_bought_does_not_act() -> None:
    """Acquirer 0 buys holder 2, which is next on the acquirer list: 2 is a subsidiary now and does not propose
    (the strategy is called once); an acquirer that is a subsidiary from the start (holder 1, parent 0) neither."""
    propose = Proposer({0: 2, 1: 3, 2: 3})
    deals = acquisitions(propose, Draws([0.0]), acquirers=[0, 1, 2], parent=[-1, 0, -1, -1, -1])
    assert list(propose.seen) == [0]
    assert [(d.acquirer, d.target) for d in deals] == [(0, 2)]


def test_a_blocked_merger_is_recorded_and_leaves_the_target_independent() -> None:
    """2023 screen on shares 30/25/20/15/10: 30 buying 10 goes from 2,250 to 2,850 (change 600 > 100, post
    > 1,800): blocked. The deal is returned with its review (the model records it as a blocked merger), and the
    target stays independent: the next acquirer (25) still sees it. 25 buying 10: 2,250 -> 2,750 (change 500),
    blocked too."""
    propose = Proposer({0: 4, 1: 4})
    deals = acquisitions(propose, Draws([0.0, 0.0]), acquirers=[0, 1], thresholds=HHI_2023)
    assert propose.seen[1] == [0, 2, 3, 4]
    assert [(d.acquirer, d.target, d.review.blocked) for d in deals] == [(0, 4, True), (1, 4, True)]
    np.testing.assert_allclose([(d.review.pre_hhi, d.review.post_hhi) for d in deals],
                               [(2250.0, 2850.0), (2250.0, 2750.0)], rtol=1e-12)


def test_later_reviews_count_the_target_with_its_new_owner() -> None:
    """Screen (3,500, 100). 30 buys 10: 2,250 -> 2,850, below 3,500: allowed. Then 25 buys 15: with the first
    deal counted, pre = 40^2 + 25^2 + 20^2 + 15^2 = 2,850 and post = 40^2 + 40^2 + 20^2 = 3,600 (change
    2 * 25 * 15 = 750): blocked. (Had the owners not been updated, pre would be 2,250 and post 3,000.)"""
    deals = acquisitions(Proposer({0: 4, 1: 3}), Draws([0.0, 0.0]), acquirers=[0, 1], thresholds=(3500.0, 100.0))
    assert [(d.acquirer, d.target, d.review.blocked) for d in deals] == [(0, 4, False), (1, 3, True)]
    np.testing.assert_allclose([(d.review.pre_hhi, d.review.post_hhi) for d in deals],
                               [(2250.0, 2850.0), (2850.0, 3600.0)], rtol=1e-12)


def test_a_target_is_reviewed_with_the_subsidiaries_it_bought_earlier_in_the_month() -> None:
    """No merger control. 20 (holder 2) buys 10 (holder 4): 2,250 -> 2,250 + 2 * 20 * 10 = 2,650. Then 30 (holder 0)
    buys holder 2, which now owns 4: the target group has 20 + 10 = 30, so pre = 30^2 + 25^2 + 30^2 + 15^2 = 2,650
    and post = 60^2 + 25^2 + 15^2 = 4,450 (change 2 * 30 * 30 = 1,800)."""
    deals = acquisitions(Proposer({2: 4, 0: 2}), Draws([0.0, 0.0]), acquirers=[2, 0])
    assert [(d.acquirer, d.target, d.review.blocked) for d in deals] == [(2, 4, False), (0, 2, False)]
    np.testing.assert_allclose([(d.review.pre_hhi, d.review.post_hhi) for d in deals],
                               [(2250.0, 2650.0), (2650.0, 4450.0)], rtol=1e-12)


def test_review_in_several_markets_the_blocking_one_is_the_verdict() -> None:
    """Firms 0 and 1 merge. Market A: 15, 15 and seven of 10: pre = 225 + 225 + 700 = 1,150, post = 900 + 700
    = 1,600, change 450: allowed (1,600 <= 1,800). Market B: 10, 10, 80: pre = 100 + 100 + 6,400 = 6,600,
    post = 400 + 6,400 = 6,800, change 200: blocked. The verdict is B's review although A's change is larger;
    without merger control nothing is blocked and the verdict is the largest change, A's."""
    a = [15.0, 15.0] + [10.0] * 7
    b = [10.0, 10.0, 80.0] + [0.0] * 6
    markets = np.array([a, b])
    owner = np.arange(9, dtype=np.int64)
    blocked = review_merger_in_markets(markets, owner, 0, 1, HHI_2023)
    assert blocked.blocked
    assert (blocked.pre_hhi, blocked.post_hhi) == (pytest.approx(6600.0, rel=1e-12), pytest.approx(6800.0, rel=1e-12))
    free = review_merger_in_markets(markets, owner, 0, 1, None)
    assert not free.blocked
    assert (free.pre_hhi, free.post_hhi) == (pytest.approx(1150.0, rel=1e-12), pytest.approx(1600.0, rel=1e-12))


# ---------------------------------------------------------------------------------------------------------
# interest, margins, entry
# ---------------------------------------------------------------------------------------------------------


def test_interest_is_charged_on_debt_only_at_a_twelfth_of_the_annual_rate() -> None:
    """Cash -1,200 at 12%: 1,200 * 0.12 / 12 = 12; cash 0 and cash 500: 0; cash -2,400 at 6%: 12;
    cash -1,200 at 24%: 24."""
    np.testing.assert_allclose(interest_on_debt(np.array([-1200.0, 0.0, 500.0, -2400.0, -1200.0]),
                                                np.array([0.12, 0.12, 0.12, 0.06, 0.24])),
                               [12.0, 0.0, 0.0, 12.0, 24.0], rtol=1e-15)


def test_margin_by_kind_is_revenue_weighted() -> None:
    """Kind 0: holders with revenue 100 and 50, profit 10 and -5: 5 / 150 = 1/30. Kind 1: 40 / 200 = 0.2.
    Kind 2 has a holder without revenue: NaN. Holders of kind -1 (resellers) are not counted."""
    margins = margin_by_kind(revenue=np.array([100.0, 50.0, 200.0, 0.0, 999.0]),
                             profit=np.array([10.0, -5.0, 40.0, -7.0, 999.0]),
                             kind=np.array([0, 0, 1, 2, -1]), n_kinds=3)
    assert margins[0] == pytest.approx(1.0 / 30.0, rel=1e-14)
    assert margins[1] == pytest.approx(0.2, rel=1e-14)
    assert math.isnan(margins[2])


def due(**changes: object) -> bool:
    """entry_is_due with a base case that is due: step 10, none entered of at most 2, none before, cooldown 3,
    lookback 3 months of margins 0.25, 0.5, 0.75 (mean 0.5) against a threshold of 0.4."""
    args: dict[str, object] = {"step": 10, "entries_so_far": 0, "max_entries": 2, "last_entry_step": None,
                               "cooldown_months": 3, "recent_margins": [0.25, 0.5, 0.75], "lookback_months": 3,
                               "threshold": 0.4}
    args.update(changes)
    return entry_is_due(**args)  # type: ignore[arg-type]


def test_entry_is_due_cap_cooldown_lookback_threshold() -> None:
    """Due in the base case. Cap: 2 entries of at most 2, not due. Cooldown 3: the last entry at step 7
    (10 - 7 = 3) allows one, at step 8 (2 months ago) not. Lookback: 2 months of margins < 3 months: not due.
    Threshold: the mean 0.5 must exceed it strictly: 0.5 not due, 0.49 due. Months without a margin (NaN) count
    toward the lookback but not the mean: [NaN, 0.5, 0.5] against 0.4 is due, [NaN, NaN, NaN] is not."""
    assert due()
    assert not due(entries_so_far=2)
    assert due(entries_so_far=1)
    assert due(last_entry_step=7)
    assert not due(last_entry_step=8)
    assert not due(recent_margins=[0.5, 0.75])
    assert due(recent_margins=[0.0, 0.25, 0.5, 0.75, 0.75], lookback_months=3)  # mean of 5 months: 0.45
    assert not due(threshold=0.5)
    assert due(threshold=0.49)
    assert due(recent_margins=[math.nan, 0.5, 0.5])
    assert not due(recent_margins=[math.nan] * 3)


def test_plan_entries_by_kind_with_unused_names() -> None:
    """Margins (specialized, decentralized) over three months: (0.3, 0.1), (0.5, nan), (0.4, 0.1). With a lookback
    of 3 and threshold 0.2, specialists enter (mean 0.4) and decentralized networks do not (mean of 0.1 and 0.1
    is 0.1; the NaN month is ignored). The specialist entrant has entered once, so this is its second firm:
    'spec_2' is taken by an incumbent, so it is named 'spec_3'. A kind still in its cooldown does not enter."""
    from market.config import EntrantConfig
    from market.corporate import plan_entries

    def entrant(name: str, kind: str, cooldown: int = 0) -> EntrantConfig:
        return EntrantConfig(name=name, margin_threshold=0.2, lookback_months=3, cooldown_months=cooldown,
                             provider={"name": name, "kind": kind, "regions": ["na"], "capacity_mtok_per_month": 1.0,
                                       "unit_cost_usd_per_mtok": 1.0})

    history = [{"specialized": 0.3, "decentralized": 0.1}, {"specialized": 0.5, "decentralized": math.nan},
               {"specialized": 0.4, "decentralized": 0.1}]
    entrants = [entrant("spec", "specialized"), entrant("swarm", "decentralized"),
                entrant("late", "specialized", cooldown=12)]
    plan = plan_entries(entrants, history, step=10, entries_so_far={"spec": 1, "late": 1},
                        last_entry_step={"late": 4}, taken_names={"spec_1", "spec_2", "cloud"})
    assert [(e.entrant, e.name) for e in plan] == [(0, "spec_3")]
    assert plan[0].incumbent_margin == pytest.approx(0.4, rel=1e-15)


def test_annuity_factor_closed_form() -> None:
    """12 months at 0%: 12. At 12% a year (1% a month): (1 - 1.01^-12) / 0.01 = 11.2550775..."""
    assert annuity_factor(12, 0.0) == 12.0
    assert annuity_factor(12, 0.12) == pytest.approx(11.25507747, rel=1e-9)


def test_entry_value_shares_the_profit_pool_by_capacity() -> None:
    """Profit pool 100 and 200 (a NaN month ignored): mean 150 a month. Incumbents' capacity 300, the entrant's
    100: it expects 150 * 100 / 400 = 37.5 a month, 37.5 * 12 = 450 over 12 months at 0%. With unlimited capacity
    the pool is shared equally among 2 incumbents and the entrant: 150 / 3 * 12 = 600. No profit: NaN."""
    args: dict[str, Any] = dict(profit_pool=[100.0, math.nan, 200.0], kind_capacity=300.0, entrant_capacity=100.0,
                                incumbents=2, horizon_months=12, rate_per_year=0.0)
    assert entry_value(**args) == pytest.approx(450.0, rel=1e-15)
    assert entry_value(**{**args, "kind_capacity": math.inf}) == pytest.approx(600.0, rel=1e-15)
    assert math.isnan(entry_value(**{**args, "profit_pool": [math.nan]}))


def test_entrant_capacity_from_its_lots() -> None:
    """10 H100 (1,200 tokens/s, 2,629,800 s a month: 3,155.76 Mtok each) and 5 A100 (400 tokens/s: 1,051.92),
    serving efficiency 1.6, algorithmic efficiency 2: (31,557.6 + 5,259.6) * 1.6 * 2 = 117,815.04 Mtok. A verified
    decentralized entrant loses its overhead (0.1): x 0.9. A fixed capacity is taken as it is."""
    from market.config import EntrantConfig, TechnologyConfig
    from market.technology import GenerationTable

    generations = GenerationTable.from_config(TechnologyConfig(generations=[
        {"name": "A100", "release_step": -54, "list_price_usd": 15000, "throughput_tokens_per_s": 400,
         "power_kw": 0.55, "lifetime_months": 72},
        {"name": "H100", "release_step": -30, "list_price_usd": 30000, "throughput_tokens_per_s": 1200,
         "power_kw": 0.9, "lifetime_months": 72}]))

    def entrant(kind: str, **extra: Any) -> EntrantConfig:
        return EntrantConfig(name="e", provider={"name": "e", "kind": kind, "serving_efficiency": 1.6,
                                                 "fleet": [{"generation": "H100", "region": "na", "gpus": 10},
                                                           {"generation": "A100", "region": "na", "gpus": 5}],
                                                 **extra})

    assert entrant_capacity_mtok(entrant("specialized"), generations, 2.0) == pytest.approx(117815.04, rel=1e-12)
    verified = entrant("decentralized", verification=True, verification_overhead=0.1)
    assert entrant_capacity_mtok(verified, generations, 2.0) == pytest.approx(117815.04 * 0.9, rel=1e-12)
    fixed = EntrantConfig(name="f", provider={"name": "f", "kind": "specialized", "capacity_mtok_per_month": 5.0,
                                              "unit_cost_usd_per_mtok": 1.0, "regions": ["na"]})
    assert entrant_capacity_mtok(fixed, generations, 2.0) == 5.0
