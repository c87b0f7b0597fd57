"""Rivals' mean price per offer (market/offers.py ``rival_prices``), against hand calculations."""

from __future__ import annotations

import numpy as np

from market.offers import rival_prices


def test_demand_weighted_mean_of_other_owners_in_the_region() -> None:
    region = np.array([0, 0, 0, 1, 0])
    owner = np.array([0, 0, 1, 2, 3])
    price = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    weight = np.array([1.0, 1.0, 2.0, 7.0, 1.0])
    rival = rival_prices(price, weight, owner, region)
    # offer 0 and 1 (owner 0): offers 2 and 4, weights 2 and 1 -> (2*3 + 1*5) / 3
    # offer 2 (owner 1): offers 0, 1, 4 -> (1 + 2 + 5) / 3; offer 4 (owner 3): offers 0, 1, 2 -> (1 + 2 + 6) / 4
    # offer 3: alone in region 1 -> NaN
    np.testing.assert_allclose(rival[[0, 1, 2, 4]], [11 / 3, 11 / 3, 8 / 3, 9 / 4], rtol=1e-14)
    assert np.isnan(rival[3])


def test_rivals_without_demand_count_equally() -> None:
    rival = rival_prices(np.array([1.0, 2.0, 4.0]), np.zeros(3), np.array([0, 1, 2]), np.array([0, 0, 0]))
    np.testing.assert_allclose(rival, [3.0, 2.5, 1.5], rtol=1e-14)
