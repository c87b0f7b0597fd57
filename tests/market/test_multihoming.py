"""Multi-homing measures (market/metrics.py: models_used, multihoming_shares) on a hand-made allocation."""

from __future__ import annotations

import math

import numpy as np

from market.metrics import models_used, multihoming_shares

# Six offers: provider 0 serves two tiers (models 0 and 1), providers 1-4 one model each.
FAMILY = np.array([0, 0, 1, 2, 3, 4])
MODEL = np.array([0, 1, 2, 3, 4, 5])
ALLOCATION = np.array([
    [10.0, 10.0, 10.0, 10.0, 10.0, 50.0],  # 6 models, 5 families
    [50.0, 49.0, 0.5, 0.5, 0.0, 0.0],  # 0.5 of 100 is below 2%: 2 models, 1 family
    [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],  # buys nothing: not counted
    [30.0, 0.0, 30.0, 40.0, 0.0, 0.0],  # 3 models, 3 families
    [20.0, 20.0, 20.0, 20.0, 18.0, 2.0],  # exactly 2% counts: 6 models, 5 families
])
WEIGHT = np.array([1.0, 2.0, 5.0, 3.0, 4.0])


def test_models_and_families_used_are_counted_at_the_threshold_by_hand() -> None:
    np.testing.assert_array_equal(models_used(ALLOCATION, MODEL, 0.02), [6, 2, 0, 3, 6])
    np.testing.assert_array_equal(models_used(ALLOCATION, FAMILY, 0.02), [5, 1, 0, 3, 5])
    np.testing.assert_array_equal(models_used(ALLOCATION, FAMILY, 0.25), [1, 1, 0, 3, 1])


def test_multihoming_shares_are_firm_weighted_over_buying_enterprises() -> None:
    """Buying firms 1 + 2 + 3 + 4 = 10; 5+ models: enterprises 0 and 4 (5 firms); 3+ families: 0, 3 and 4 (8)."""
    five, three = multihoming_shares(ALLOCATION, MODEL, FAMILY, WEIGHT, 0.02)
    assert five == 0.5
    assert three == 0.8
    assert all(math.isnan(x) for x in multihoming_shares(np.zeros((2, 3)), MODEL[:3], FAMILY[:3], np.ones(2), 0.02))
