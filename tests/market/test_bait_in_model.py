"""A bait price in the baseline model (issue: a hyperscaler posting 30% of its price at step 24 was 19x
oversubscribed, market volume rose 36% and its group profit 23%). With volume at the fixed point of volume
and rationing, the bait must not raise the group's profit."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np

from market.model import InferenceMarket


def test_bait_price_does_not_raise_the_hyperscalers_group_profit() -> None:
    model = InferenceMarket(scenario="baseline", seed=4043954626651202673)
    model.run(24)
    model.advance_technology()
    model.grow_demand()
    model.post_offers()
    honest, bait = model, copy.deepcopy(model)
    owner = next(p for p in model.providers if p.kind == "hyperscaler" and p.active).holder_id
    mine = bait.offers.owner == owner
    bait.offers = dataclasses.replace(bait.offers, price=np.where(mine, 0.3 * bait.offers.price, bait.offers.price))
    results = []
    for m in (honest, bait):
        m.clear_market()
        m.settle()
        group = m.offers.owner == owner
        results.append((float(m.settlement.profit[np.unique(m.offers.holder[group])].sum()),
                        float(m.clearing.served.sum())))
    (profit_honest, volume_honest), (profit_bait, volume_bait) = results
    assert profit_bait < profit_honest
    # The volume buyers buy is what they want at the price they actually pay after rationing (the fixed point),
    # not what the bait price promised: V_e = V0_e (P_e / p_ref)^-eps to the solver's tolerance.
    c, pop = bait.clearing, bait.population
    assert c.volume is not None and c.effective_price is not None
    wanted = bait.base_volume * (c.effective_price / pop.reference_price) ** (-pop.elasticity)
    tolerance = bait.config.simulation.volume_tolerance
    assert np.max(np.abs(np.log(c.volume / wanted))) <= tolerance + 1e-12
    assert volume_bait >= volume_honest  # cheaper tokens really sold: volume does not fall
