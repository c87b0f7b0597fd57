"""Pricing strategies: how a provider turns what it observes into prices for its offers.

Strategies are chosen by name from :data:`PRICING_STRATEGIES`; their parameters are validated by the config
schema (``market.config``). A strategy sees only its own provider's :class:`PricingView` and returns one price
per offer; the market computes the demand curves it reads (``market.pricing``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np
from numpy.typing import NDArray

from agents.registry import lookup
from market.config import (
    AdaptivePricing,
    BestResponsePricing,
    CostPlusPricing,
    PredatoryPricing,
    QLearningPricing,
    ShareAcquisitionPricing,
)
from market.demand import price_term_derivative, utility_transform
from market.pooled_pricing import pooled_best_response
from market.pricing import capacity_clearing_price, logit_best_response

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class PricingView:
    """What a provider knows when it prices, one entry per offer (region) it serves.

    Attributes:
        step: Current step.
        unit_cost: Full cost per Mtok at the provider's cost-basis utilization (depreciation, power and opex
            spread over the tokens it expects to sell), $/Mtok.
        marginal_cost: Cost per Mtok served that settlement books on top of the fleet's fixed monthly costs
            (``FleetEconomics.variable_cost``: zero for a fleet, the fixed unit cost in pure pricing games), $/Mtok.
        last_price: Price posted last step, $/Mtok.
        demand: Unconstrained demand at last step's prices, Mtok.
        own_slope: ``-dD/dp`` at last step's prices.
        beta: Buyers' mean price sensitivity over the logit scale.
        recapture_owner: Margin recaptured by offers of the same owner per unit of diverted demand, $/Mtok.
        recapture_industry: Same, over all offers in the market (joint-profit benchmark), $/Mtok.
        rival_price: Demand-weighted mean last price of other owners' offers in the same region, $/Mtok (NaN
            where there is none, or before the first clearing); for an offer it did not post, every offer's
            demand-weighted mean price in the region (the market an entrant enters).
        capacity: Capacity per offer, Mtok.
        last_profit: Provider profit last step, $.
        cash: Cash, $.
        credit_limit: Credit limit, $.
        utility_form: ``linear`` or ``log``.
        observed: False at step 0, before any clearing.
        region: Names of the regions of its offers.
        pool: Per offer, the index of the capacity pool (region) it shares with its other tiers there; empty
            when each offer has its own capacity (one tier), which ``best_response`` then prices alone.
        capacity_weight: Capacity units per Mtok of each offer (with ``pool``).
        pool_capacity: Capacity of each offer's pool, capacity units (with ``pool``).
    """

    step: int
    unit_cost: FloatArray
    marginal_cost: FloatArray
    last_price: FloatArray
    demand: FloatArray
    own_slope: FloatArray
    beta: FloatArray
    recapture_owner: FloatArray
    recapture_industry: FloatArray
    rival_price: FloatArray
    capacity: FloatArray
    last_profit: float
    cash: float
    credit_limit: float
    utility_form: str
    observed: bool
    region: tuple[str, ...] = ()
    pool: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    capacity_weight: FloatArray = field(default_factory=lambda: np.zeros(0))
    pool_capacity: FloatArray = field(default_factory=lambda: np.zeros(0))


OPENING_PRICE_FACTOR: float = 1.3
"""Price over unit cost of an offer that has neither its own demand observation nor a rival price in its region
(the last fallback of :meth:`PricingStrategy.opening_prices`)."""

Observable = Literal["recapture_owner", "recapture_industry"]
"""Observations that cost the market extra work, computed only when a strategy in the market declares it needs
them (:attr:`PricingStrategy.observes`)."""


class PricingStrategy:
    """Base class: one instance per provider, so a strategy may keep state."""

    name: ClassVar[str]
    uses_rng: ClassVar[bool] = False
    """Whether the constructor takes the provider's generator (``rng=``)."""

    def __init__(self, params: Any) -> None:
        self.params = params

    @property
    def observes(self) -> frozenset[Observable]:
        """Costly observations this strategy reads from its view (others are left at zero)."""
        return frozenset()

    def opening_prices(self, view: PricingView) -> FloatArray:
        """Prices of offers never priced before (every offer at step 0 without configured prices, an entrant's
        on entry), $/Mtok, without changing the strategy's state.

        The model iterates this rule against trial clearings of the market being opened (``InferenceMarket.
        open_offers``), so it must be the strategy's price rule as a function of the view. The default is the
        myopic best response at marginal cost (:func:`best_response_prices`) where the view has the offer's
        demand, else the rivals' price in the region, else ``unit_cost * OPENING_PRICE_FACTOR``.
        """
        return best_response_prices(view, view.recapture_owner)

    def decide(self, view: PricingView) -> FloatArray:  # pragma: no cover - interface
        """Prices for the provider's offers, $/Mtok."""
        raise NotImplementedError


def fallback_prices(view: PricingView) -> FloatArray:
    """The last price where there is one, else the rivals' price in the region, else ``unit_cost * 1.3``."""
    rival = np.where(np.isfinite(view.rival_price), view.rival_price, view.unit_cost * OPENING_PRICE_FACTOR)
    return np.where(np.isfinite(view.last_price), view.last_price, rival)


def best_response_prices(view: PricingView, recapture: FloatArray) -> FloatArray:
    """Myopic best response at marginal cost: ``argmax_p (p - mc - recapture) min(D(p), K)`` under the logit
    demand fitted to the offer's observed demand and slope (``market.pricing.logit_best_response``). Where
    capacity binds this is the price at which demand meets capacity (the shadow price of capacity added to the
    unconstrained optimum). Offers that share a pool (``view.pool``: tiers on the same GPUs) are priced jointly
    against the pool's capacity with one shadow price per capacity unit
    (``market.pooled_pricing.pooled_best_response``).
    Where demand is too inelastic for an interior optimum the price is capped at 1,000 x
    the full unit cost. Offers without an observed demand keep :func:`fallback_prices`."""
    base = fallback_prices(view)
    if not view.observed:
        return base
    if len(view.pool):  # tiers sharing GPUs: one shadow price of capacity per pool (market.pricing)
        return pooled_best_response(cost=view.marginal_cost + recapture, price=base, demand=view.demand,
                                    own_slope=view.own_slope, beta=view.beta, form=view.utility_form,
                                    weight=view.capacity_weight, pool=view.pool, pool_capacity=view.pool_capacity,
                                    price_anchor=view.unit_cost)
    return logit_best_response(cost=view.marginal_cost + recapture, price=base, demand=view.demand,
                               own_slope=view.own_slope, beta=view.beta, form=view.utility_form,
                               capacity=view.capacity, price_anchor=view.unit_cost)


def scarcity_prices(view: PricingView) -> FloatArray:
    """The price at which the offer's fitted demand just fills its capacity (0 where capacity is slack or
    nothing was observed): ``market.pricing.capacity_clearing_price``."""
    if not view.observed:
        return np.zeros_like(view.unit_cost)
    return capacity_clearing_price(price=fallback_prices(view), demand=view.demand, own_slope=view.own_slope,
                                   beta=view.beta, capacity=view.capacity, form=view.utility_form)


class CostPlusStrategy(PricingStrategy):
    """``p = max(unit_cost * (1 + markup), scarcity price)``: the scarcity floor only with ``scarcity_floor``."""

    name = "cost_plus"

    def __init__(self, params: CostPlusPricing) -> None:
        self.params = params
        self.markup = params.markup

    def decide(self, view: PricingView) -> FloatArray:
        price = view.unit_cost * (1.0 + self.markup)
        return np.maximum(price, scarcity_prices(view)) if self.params.scarcity_floor else price

    def opening_prices(self, view: PricingView) -> FloatArray:
        return self.decide(view)


class BestResponseStrategy(PricingStrategy):
    """Myopic best response to the logit demand given rivals' last prices (``market.pricing``)."""

    name = "best_response"

    def __init__(self, params: BestResponsePricing) -> None:
        self.params = params

    @property
    def observes(self) -> frozenset[Observable]:
        """The margin recaptured by its owner's other offers, or by the whole industry's (joint profit)."""
        return frozenset({"recapture_industry" if self.params.objective == "industry" else "recapture_owner"})

    def decide(self, view: PricingView) -> FloatArray:
        if not view.observed:
            return view.last_price
        target = self.opening_prices(view)
        d = self.params.damping
        return d * target + (1.0 - d) * view.last_price

    def opening_prices(self, view: PricingView) -> FloatArray:
        recapture = view.recapture_industry if self.params.objective == "industry" else view.recapture_owner
        return best_response_prices(view, recapture)


class ShareAcquisitionStrategy(PricingStrategy):
    """Price below cost while the cash runway allows (at most ``max_months``), then recover with a markup."""

    name = "share_acquisition"

    def __init__(self, params: ShareAcquisitionPricing) -> None:
        self.params = params
        self.months_subsidized = 0
        self.acquiring = True

    def decide(self, view: PricingView) -> FloatArray:
        p = self.params
        if self.acquiring:
            loss = max(-view.last_profit, 0.0)
            headroom = view.cash + view.credit_limit
            runway_ok = loss == 0.0 or headroom > p.runway_months * loss
            if not runway_ok or self.months_subsidized >= p.max_months:
                self.acquiring = False
        if self.acquiring:
            self.months_subsidized += 1
            return view.unit_cost * (1.0 - p.discount)
        return view.unit_cost * (1.0 + p.recovery_markup)

    def opening_prices(self, view: PricingView) -> FloatArray:
        return view.unit_cost * (1.0 - self.params.discount if self.acquiring else 1.0 + self.params.recovery_markup)


class AdaptiveStrategy(PricingStrategy):
    """Sign-gradient hill-climbing on each offer's contribution ``(p - mc) min(D(p), K)``.

    The gradient is read from the last month's observation of the offer's own demand curve, not from the
    change in total profit (which moves with costs, fixed costs and the market as well as with the price)::

        d/dp [(p - mc) min(D, K)] = K                     where D > K (capacity binds: raise the price)
                                  = D - (p - mc) (-dD/dp)  otherwise

    Each offer's price moves by ``exp(+-step)`` in the gradient's direction; the step shrinks by ``step_decay``
    (not below ``min_step``) when the direction reverses and grows by ``1 / sqrt(step_decay)`` (not above
    ``max_step``) while it holds, so that it can follow a trend and still settles where the gradient flips.
    An offer that sold nothing moves down. The price never falls below ``unit_cost * (1 + floor_markup)``
    (the strategy's documented floor).
    """

    name = "adaptive"

    def __init__(self, params: AdaptivePricing) -> None:
        self.params = params
        self.direction: FloatArray | None = None
        self.step: FloatArray | None = None

    def decide(self, view: PricingView) -> FloatArray:
        p = self.params
        price = fallback_prices(view)
        if not view.observed:
            return price
        n = len(price)
        if self.direction is None or len(self.direction) != n:
            self.direction, self.step = np.zeros(n), np.full(n, p.step)
        assert self.step is not None
        gradient = contribution_gradient(view, price)
        direction = np.where(view.demand > 0, np.sign(gradient), -1.0)
        turned = direction * self.direction < 0
        held = direction * self.direction > 0
        self.step = np.where(turned, np.maximum(p.min_step, self.step * p.step_decay),
                             np.where(held, np.minimum(p.max_step, self.step / math.sqrt(p.step_decay)), self.step))
        self.direction = direction
        return np.maximum(price * np.exp(direction * self.step), view.unit_cost * (1.0 + p.floor_markup))


def contribution_gradient(view: PricingView, price: FloatArray) -> FloatArray:
    """``d/dp [(p - mc) min(D(p), K)]`` at ``price`` from the observed demand and slope (AdaptiveStrategy)."""
    binding = view.demand > view.capacity
    return np.where(binding, view.capacity, view.demand - (price - view.marginal_cost) * view.own_slope)


class PredatoryStrategy(PricingStrategy):
    """Predation: subsidise the target regions' offers below cost while cash allows, else best response.

    From ``start_step`` for ``horizon_months`` months, offers in ``target_regions`` (all regions when empty) are
    priced at ``unit_cost * (1 - discount)``, and no higher than ``rival_price * (1 - undercut)`` where rivals
    are observed, to take their customers. The subsidy stops for good once cash falls below
    ``cash_reserve_usd`` or the horizon ends. Every other offer, and every offer after the campaign, is priced
    at the myopic best response at marginal cost (as ``best_response`` with the owner objective).
    """

    name = "predatory"

    def __init__(self, params: PredatoryPricing) -> None:
        self.params = params
        self.stopped = False

    def campaign(self, view: PricingView) -> bool:
        """Whether the subsidy runs this month (cash above the reserve, within the horizon)."""
        p = self.params
        return (not self.stopped and p.start_step <= view.step < p.start_step + p.horizon_months
                and view.cash >= p.cash_reserve_usd)

    def targeted(self, view: PricingView) -> NDArray[np.bool_]:
        """Which offers are in the target regions."""
        targets = self.params.target_regions
        return np.array([not targets or r in targets for r in view.region] if view.region
                        else [not targets] * len(view.unit_cost), dtype=bool)

    def opening_prices(self, view: PricingView) -> FloatArray:
        normal = best_response_prices(view, view.recapture_owner)
        if not self.campaign(view):
            return normal
        p = self.params
        subsidy = view.unit_cost * (1.0 - p.discount)
        subsidy = np.where(np.isfinite(view.rival_price), np.minimum(subsidy, view.rival_price * (1.0 - p.undercut)),
                           subsidy)
        return np.where(self.targeted(view), subsidy, normal)

    def decide(self, view: PricingView) -> FloatArray:
        if not self.stopped and (view.step >= self.params.start_step + self.params.horizon_months
                                 or view.cash < self.params.cash_reserve_usd):
            self.stopped = True
        return self.opening_prices(view)


class QLearningStrategy(PricingStrategy):
    """Q-learning pricing in the inference market: one table per offer (region), prices as markups over cost.

    Actions are the grid ``unit_cost x (1 + markup_k)``, ``markup_k`` evenly spaced from ``min_markup`` to
    ``max_markup``. The state is ``(own last grid index, rival bin)``: the rivals' last price
    (``view.rival_price``) as a markup over the provider's own unit cost, coarsened into ``rival_bins`` equal
    bins between ``min_markup`` and ``max_markup`` (outside prices fall into the end bins) plus one bin for
    "no rival price" (NaN), so a table has ``grid_points x (rival_bins + 1)`` states whatever the number of
    rivals; with ``memory_months = k`` the state is the last ``k`` such pairs (``(grid_points x (rival_bins +
    1)) ** k`` states). The reward of a month is the offer's gross margin, ``(last price - unit cost) x min(demand,
    capacity)``. Tables start, at the first observed month, at the discounted payoff of each grid price against
    the rivals' current prices, ``pi(p_k) / (1 - delta)``, with demand from the homogeneous-logit fit of the
    observed demand and slope (the counterpart of the paper's payoff against randomizing rivals, for an agent
    that does not know the demand system). The first month's price is drawn uniformly (``eps_0 = 1``).

    Args:
        params: The strategy's parameters.
        rng: The provider's own generator (spawned by the model from the run's seed); required.
    """

    name = "q_learning"
    uses_rng = True

    def __init__(self, params: QLearningPricing, rng: np.random.Generator | None = None) -> None:
        if rng is None:
            raise ValueError("q_learning pricing needs the provider's random generator (rng=...)")
        self.params = params
        self.rng = rng
        self.markups = np.linspace(params.min_markup, params.max_markup, params.grid_points)
        self.q: FloatArray | None = None
        self.state: IntArray | None = None
        self.action: IntArray | None = None
        self.months = 0
        self.codes: IntArray | None = None  # last memory_months (own index, rival bin) codes per offer, newest first

    def decide(self, view: PricingView) -> FloatArray:
        """Update the tables with last month's outcome, then choose this month's grid prices."""
        p = self.params
        offers = len(view.unit_cost)
        code = self.states(view)
        first = self.action is None
        if first:
            code = self.rng.integers(0, p.grid_points, size=offers) * (p.rival_bins + 1) + p.rival_bins
        history = np.repeat(code[:, None], p.memory_months, axis=1) if self.codes is None else self.codes
        self.codes = np.concatenate([code[:, None], history[:, :-1]], axis=1)
        base = p.grid_points * (p.rival_bins + 1)
        new_state = self.codes @ base ** np.arange(p.memory_months, dtype=np.int64)
        if first:
            self.action = np.zeros(offers, dtype=np.int64)
        elif view.observed:
            if self.q is None:
                self.q = self.initial_tables(view)
            reward = (view.last_price - view.unit_cost) * np.minimum(view.demand, view.capacity)
            rows = np.arange(offers)
            target = reward + p.delta * self.q[rows, new_state].max(axis=1)
            old = self.q[rows, self.state, self.action]
            self.q[rows, self.state, self.action] = (1.0 - p.alpha) * old + p.alpha * target
        eps = math.exp(-p.beta * self.months)
        draws = self.rng.random(offers)
        greedy = (np.argmax(self.q[np.arange(offers), new_state], axis=1) if self.q is not None
                  else np.zeros(offers, dtype=np.int64))
        exploring = draws < eps
        uniform = np.where(exploring, draws / max(eps, 1e-300), 0.0)  # uniform on [0, 1) given exploring
        explore = np.minimum((uniform * p.grid_points).astype(np.int64), p.grid_points - 1)
        self.action = np.where(exploring, explore, greedy)
        self.state = new_state
        self.months += 1
        return view.unit_cost * (1.0 + self.markups[self.action])

    def states(self, view: PricingView) -> IntArray:
        """State index per offer: own last grid index x (rival_bins + 1) + rival bin."""
        p = self.params
        own = self.action if self.action is not None else np.zeros(len(view.unit_cost), dtype=np.int64)
        rival_markup = view.rival_price / view.unit_cost - 1.0
        position = (rival_markup - p.min_markup) / (p.max_markup - p.min_markup) * p.rival_bins
        rival_bin = np.where(np.isnan(position), p.rival_bins,
                             np.clip(np.nan_to_num(position), 0, p.rival_bins - 1).astype(np.int64))
        return own * (p.rival_bins + 1) + rival_bin

    def initial_tables(self, view: PricingView) -> FloatArray:
        """``Q0[offer, state, k] = (p_k - c) D(p_k) / (1 - delta)`` from the homogeneous-logit demand fit.

        With demand ``D0`` and slope ``-dD/dp = S`` at the last price ``p0``, the offer's share there solves
        ``S = beta g'(p0) D0 (1 - s0)``, and ``D(p) = D0 s(p) / s0`` with
        ``s(p) = 1 / (1 + (1 - s0)/s0 exp(beta (g(p) - g(p0))))`` (``market.pricing``'s model of demand).
        Offers that sold nothing get zero tables (ties go to the lowest price).
        """
        p = self.params
        prices = view.unit_cost[:, None] * (1.0 + self.markups[None, :])
        d0, slope, b, p0 = view.demand, view.own_slope, view.beta, view.last_price
        with np.errstate(divide="ignore", invalid="ignore"):
            not_own = np.clip(slope / (b * price_term_derivative(p0, view.utility_form) * d0), 1e-9, 1 - 1e-9)
            shift = b[:, None] * (utility_transform(prices, view.utility_form)
                                  - utility_transform(p0, view.utility_form)[:, None])
            share = 1.0 / (1.0 + (not_own / (1.0 - not_own))[:, None] * np.exp(np.minimum(shift, 700.0)))
            demand = d0[:, None] * share / (1.0 - not_own)[:, None]
        fitted = (d0 > 0) & (b > 0) & np.isfinite(not_own)
        demand = np.where(fitted[:, None] & np.isfinite(demand), np.minimum(demand, view.capacity[:, None]), 0.0)
        payoff = (prices - view.unit_cost[:, None]) * demand / (1.0 - p.delta)
        states = (p.grid_points * (p.rival_bins + 1)) ** p.memory_months
        return np.repeat(payoff[:, None, :], states, axis=1)


PRICING_STRATEGIES: dict[str, type[PricingStrategy]] = {
    cls.name: cls for cls in (CostPlusStrategy, BestResponseStrategy, ShareAcquisitionStrategy, AdaptiveStrategy,
                              PredatoryStrategy, QLearningStrategy)
}
"""Registry of pricing strategies by config name."""


def make_pricing_strategy(
    params: CostPlusPricing | BestResponsePricing | ShareAcquisitionPricing | AdaptivePricing | PredatoryPricing
    | QLearningPricing,
    rng: np.random.Generator | None = None,
) -> PricingStrategy:
    """Instantiate the strategy named by ``params.strategy``.

    Args:
        params: The strategy's parameters.
        rng: The provider's own generator, handed to strategies that draw random numbers (``uses_rng``).

    Raises:
        KeyError: The name is not registered; the message lists the registered names.
    """
    cls = lookup(PRICING_STRATEGIES, params.strategy, "pricing strategy")
    if cls.uses_rng:
        return cls(params, rng=rng)  # type: ignore[call-arg]
    return cls(params)
