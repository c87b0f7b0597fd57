"""The per-agent Mesa reference of the benchmark clears the market exactly as the engine does."""

from __future__ import annotations

import numpy as np

from benchmarks.case import engine_clearing
from benchmarks.floor import floor_clearing
from benchmarks.mesa_reference import MesaClearing
from market.clearing import clear_logit_market, logit_shares
from market.demand import EXCLUDED


def engine_allocation(utility, outside, volume, capacity, mu, rounds):  # type: ignore[no-untyped-def]
    shares, outside_share = logit_shares(utility, outside, mu)
    return clear_logit_market(shares, outside_share, volume, capacity, np.ones(utility.shape[1]), rounds).allocation


def test_hand_calculation_one_buyer_two_offers() -> None:
    # u = (0, 0), u0 = 0, mu = 1: shares 1/3 each; volume 3 wants 1 from each; offer 0 holds 0.5, so 0.5 is
    # re-offered to offer 1 and the outside option in proportion 1/3 : 1/3, i.e. 0.25 to offer 1 (worked by hand).
    model = MesaClearing(np.zeros((1, 2)), np.zeros(1), np.array([3.0]), np.array([0.5, np.inf]), mu=1.0, rounds=3)
    model.step()
    np.testing.assert_allclose(model.allocation(), [[0.5, 1.25]], rtol=1e-15)


def test_mesa_reference_matches_engine_with_rationing_exclusions_and_outside_near_one() -> None:
    rng = np.random.default_rng(12)
    n_ent, n_off, mu, rounds = 60, 7, 0.4, 3
    utility = rng.normal(0.0, 1.0, (n_ent, n_off))
    utility[rng.random((n_ent, n_off)) < 0.2] = EXCLUDED  # residency and quality-floor exclusions
    utility[5] = EXCLUDED  # a buyer with no admissible offer
    outside = rng.normal(-0.5, 0.5, n_ent)
    outside[:8] = 12.0  # outside share within ~1e-12 of one
    volume = rng.uniform(0.5, 4.0, n_ent)
    unconstrained = engine_allocation(utility, outside, volume, np.full(n_off, np.inf), mu, rounds).sum(axis=0)
    capacity = unconstrained * np.array([0.3, 0.6, 2.0, 0.9, 5.0, 0.1, 1.5])  # four offers rationed
    expected = engine_allocation(utility, outside, volume, capacity, mu, rounds)
    model = MesaClearing(utility, outside, volume, capacity, mu=mu, rounds=rounds)
    model.step()
    got = model.allocation()
    assert np.all(expected.sum(axis=0) <= capacity * (1 + 1e-12))
    assert expected[:8].sum() < 1e-9 * volume[:8].sum()
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12 * volume.max())
    fused = engine_clearing(utility, outside, mu, volume, capacity, np.ones(n_off), rounds).allocation
    np.testing.assert_allclose(got, fused, rtol=1e-9, atol=1e-12 * volume.max())  # the engine the benchmark times
    # The floor is the same logit with one capacity pass: it equals the engine when no re-offer round runs.
    plenty = unconstrained * 2.0
    np.testing.assert_allclose(floor_clearing(utility, outside, volume, plenty, mu),
                               engine_allocation(utility, outside, volume, plenty, mu, rounds), rtol=1e-12, atol=0)
