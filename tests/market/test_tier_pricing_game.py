"""Multi-tier validation game: a two-tier (multi-product) logit firm facing a single-product rival.

Theory (Anderson, de Palma and Thisse 1992, "Discrete Choice Theory of Product Differentiation", ch. 7.4;
the multi-product logit firm): with linear utility ``u_i = a_i - p_i`` and logit scale ``mu``, firm ``f``
maximizing ``sum_{i in f} (p_i - c_i) s_i`` has first-order conditions

    m_i - sum_{j in f} m_j s_j = mu          for every product i of f    (m_i = p_i - c_i)

so all its products carry the same markup ``m_f``, and ``m_f (1 - S_f) = mu``, ``S_f = sum_{i in f} s_i``:
``m_f = 1 / (alpha (1 - S_f))`` with ``alpha = 1 / mu``. A single-product rival has ``m = mu / (1 - s)``. The
equilibrium below solves these two equations in the two markups with scipy.optimize.root, independently of the
model's pricing code; the model's ``best_response`` dynamics must end within 1e-3 of it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from scipy.optimize import root

from market.config.files import scenario_from_dict
from market.model import InferenceMarket

MU = 0.25
TIERS = [{"name": "frontier", "quality_factor": 1.0, "throughput_multiplier": 1.0, "base_latency_ms": 0.0},
         {"name": "mid", "quality_factor": 0.8, "throughput_multiplier": 2.0, "base_latency_ms": 0.0}]
# Products: A frontier (quality 2.0, cost 1.0), A mid (2.0 x 0.8 = 1.6, cost 1.0 / 2 = 0.5), B frontier (2.2, 1.1).
QUALITY = np.array([2.0, 1.6, 2.2])
COST = np.array([1.0, 0.5, 1.1])
OWNER = np.array([0, 0, 1])


def shares(price: np.ndarray) -> np.ndarray:
    w = np.exp((QUALITY - price) / MU)
    return w / (w.sum() + 1.0)  # outside option of utility 0


def independent_equilibrium() -> np.ndarray:
    """Equal markups per firm, ``m_f (1 - S_f) = mu`` (module docstring), solved for (m_A, m_B)."""

    def conditions(markup: np.ndarray) -> np.ndarray:
        s = shares(COST + markup[OWNER])
        firm_share = np.bincount(OWNER, weights=s)
        return markup * (1.0 - firm_share) - MU

    sol = root(conditions, np.array([MU, MU]), method="hybr", options={"xtol": 1e-14})
    assert np.abs(conditions(sol.x)).max() < 1e-12
    return COST + sol.x[OWNER]


def test_the_independent_equilibrium_is_a_nash_equilibrium() -> None:
    """No firm gains by a small deviation of either of its prices (profit is locally maximal)."""
    p = independent_equilibrium()
    for firm in (0, 1):
        mine = OWNER == firm
        base = float(((p - COST) * shares(p))[mine].sum())
        for i in np.nonzero(mine)[0]:
            for step in (-1e-4, 1e-4):
                q = p.copy()
                q[i] += step
                assert float(((q - COST) * shares(q))[mine].sum()) < base


def tier_game(make_pricing_game: Any) -> dict[str, Any]:
    data = make_pricing_game([(2.0, 1.0), (2.2, 1.1)], mu=MU, steps=80)
    data["tiers"] = TIERS
    data["providers"][1]["tiers"] = ["frontier"]
    return data


def test_best_response_converges_to_the_multiproduct_equilibrium(make_pricing_game: Any) -> None:
    model = InferenceMarket(scenario_from_dict(tier_game(make_pricing_game)), seed=0)
    model.run()
    offers = model.offers
    assert list(zip(offers.holder.tolist(), offers.tier.tolist(), strict=True)) == [(0, 0), (0, 1), (1, 0)]
    np.testing.assert_allclose(offers.unit_cost, COST, rtol=1e-15)
    np.testing.assert_allclose(offers.quality, QUALITY, rtol=1e-15)
    expected = independent_equilibrium()
    np.testing.assert_allclose(offers.price, expected, atol=1e-3)
    markup = offers.price - COST
    assert markup[0] == pytest.approx(markup[1], abs=1e-3)  # one markup over cost for a firm's tiers
    # Pricing the two tiers as rivals would end elsewhere: the recaptured margin matters.
    assert abs(markup[0] - MU / (1.0 - shares(expected)[0])) > 10e-3


def test_an_unknown_tier_is_a_config_error_naming_it(make_pricing_game: Any) -> None:
    data = tier_game(make_pricing_game)
    data["providers"][0]["tiers"] = ["frontier", "nano"]
    with pytest.raises(ValueError, match=r"providers\[0\]\.tiers: unknown tier 'nano'"):
        scenario_from_dict(data)


def test_duplicate_tier_names_and_non_positive_factors_are_config_errors(make_pricing_game: Any) -> None:
    data = tier_game(make_pricing_game)
    data["tiers"] = [TIERS[0], TIERS[0]]
    with pytest.raises(ValueError, match="duplicate tier name"):
        scenario_from_dict(data)
    data["tiers"] = [{**TIERS[0], "throughput_multiplier": 0.0}]
    data["providers"][1]["tiers"] = []
    with pytest.raises(ValueError, match="throughput_multiplier"):
        scenario_from_dict(data)


def test_without_tiers_every_provider_posts_one_offer_per_region(make_pricing_game: Any) -> None:
    model = InferenceMarket(scenario_from_dict(make_pricing_game([(2.0, 1.0), (2.2, 1.1)], mu=MU, steps=2)), seed=0)
    model.run()
    assert model.offers.tier.tolist() == [0, 0] and model.offers.pool.tolist() == [0, 1]
    assert model.offers.capacity_weight.tolist() == [1.0, 1.0] and math.isinf(model.offers.capacity[0])
