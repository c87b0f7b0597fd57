"""Monthly accounts of the providers: revenue, costs, interest and profit. Pure functions on arrays.

For holder ``h`` (sums over its offers ``o`` and the regions ``r`` of its fleet)::

    revenue[h]      = sum_o price_o * served_o
    cash_cost[h]    = sum_r (power_cost[h, r] + opex[h, r]) + sum_o variable_cost_o * served_o
    depreciation[h] = sum_r depreciation[h, r]
    interest[h]     = max(-cash_h, 0) * cost_of_capital_h / 12       (on the debt carried into the month)
    profit[h]       = revenue - cash_cost - depreciation - interest
    cash[h]        += revenue - cash_cost - interest

A subsidiary's treasury is its owner's: it pays no interest of its own, its cash flows go to the owner.

With routers (``market.routers``), ``served_o`` counts for the holder whose GPUs serve it: a router offer's
tokens are served by the provider it routes to, which earns ``p_via x`` from the router and bears its variable
cost; the router's revenue is what buyers paid it and its cash cost what it paid providers (no fleet, no
interest).

The data flywheel (``market.corporate.flywheel_gain``) learns from the work served, counted in capacity units
(Mtok of the frontier model, the GPU time the tokens took)::

    served_units[h] = sum_o capacity_weight_o * served_o      (a routed token: the weight of the offer it is routed to)

so a small tier's cheap token, a fifteenth of a frontier token's GPU time, teaches a fifteenth as much; with one
tier (weight 1) it is ``served``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from market.clearing import Clearing
from market.fleet import FleetEconomics
from market.offers import OfferBook
from market.routers import PassThrough, pass_through

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Settlement:
    """One month's accounts per holder id, $ (``served`` in Mtok of the tiers served, ``served_units`` in
    capacity units, module docstring). Holders without accounts have zeros.

    ``routed`` (only in a market with routers): the month's sales through routers (``market.routers.PassThrough``).
    """

    revenue: FloatArray
    served: FloatArray
    depreciation: FloatArray
    cash_cost: FloatArray
    interest: FloatArray
    profit: FloatArray
    served_units: FloatArray
    routed: PassThrough | None = None

    @classmethod
    def zeros(cls, n_holders: int) -> Settlement:
        """Empty accounts (before the first step)."""
        zero = {name: np.zeros(n_holders) for name in cls.__dataclass_fields__ if name != "routed"}
        return cls(**zero)  # type: ignore[arg-type]

    def padded(self, n_holders: int) -> Settlement:
        """The same accounts with zero rows for holders added since (entrants of the month)."""
        def pad(values: FloatArray) -> FloatArray:
            missing = n_holders - len(values)
            return np.concatenate([values, np.zeros(missing)]) if missing > 0 else values

        routed = None if self.routed is None else PassThrough(
            **{name: pad(getattr(self.routed, name)) for name in PassThrough.__dataclass_fields__})
        return replace(self, routed=routed, **{name: pad(getattr(self, name)) for name in self.__dataclass_fields__
                                               if name != "routed"})


def settle_month(offers: OfferBook, clearing: Clearing, fleet: FleetEconomics, interest: FloatArray,
                 books: NDArray[np.bool_]) -> Settlement:
    """The month's accounts (equations in the module docstring).

    Args:
        offers: This month's offers.
        clearing: Their clearing.
        fleet: Fleet costs per (holder, region).
        interest: Interest per holder this month, $.
        books: Which holders keep accounts (active providers, routers); the others get zero profit.
    """
    n = len(interest)
    def per_holder(weights: FloatArray) -> FloatArray:
        return np.asarray(np.bincount(offers.holder, weights=weights, minlength=n), dtype=np.float64)

    revenue = per_holder(clearing.revenue)
    routed = None
    if (offers.via >= 0).any():  # router offers: tokens served by the providers behind them
        direct = np.where(offers.via < 0, clearing.served, 0.0)
        routed = pass_through(offers, clearing.served, n)
        served = per_holder(direct) + routed.provider_served
        units = per_holder(direct * offers.capacity_weight) + routed.provider_served_units
        variable = per_holder(direct * offers.variable_cost) + routed.provider_variable_cost + routed.router_cost
        revenue = revenue + routed.provider_revenue
    else:
        served = per_holder(clearing.served)
        units = per_holder(clearing.served * offers.capacity_weight)
        variable = per_holder(clearing.served * offers.variable_cost)
    depreciation = fleet.depreciation.sum(axis=1)
    cash_cost = fleet.power_cost.sum(axis=1) + fleet.opex.sum(axis=1) + variable
    profit = np.where(books, revenue - cash_cost - depreciation - interest, 0.0)
    return Settlement(revenue=revenue, served=served, depreciation=depreciation, cash_cost=cash_cost,
                      interest=interest, profit=profit, served_units=units, routed=routed)
