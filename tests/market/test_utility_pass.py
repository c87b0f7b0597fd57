"""The compiled utility pass (market.demand.choice_utilities, market.row_passes.utility_pass) against the numpy
matrix product it replaces (market.demand.choice_utilities_reference), on random markets (hypothesis)."""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from market.demand import EXCLUDED, choice_class_penalties, choice_utilities, choice_utilities_reference


@st.composite
def markets(draw: st.DrawFn) -> dict[str, Any]:
    """Up to 30 buyers x 12 offers in 3 regions: residency and quality-floor exclusions in the class table, a
    quality floor per buyer (or none), incumbents (or none), offer shocks (or none), either utility form."""
    n_ent, n_off, n_seg = draw(st.integers(1, 30)), draw(st.integers(1, 12)), draw(st.integers(1, 3))
    per_ent = {name: draw(hnp.arrays(np.float64, n_ent, elements=st.floats(0.0, 3.0)))
               for name in ("quality_weight", "price_sensitivity", "privacy_sensitivity", "lockin_aversion",
                            "trust_weight", "reliability_weight", "switching_cost")}
    per_off = {name: draw(hnp.arrays(np.float64, n_off, elements=st.floats(0.05, 4.0)))
               for name in ("offer_quality", "offer_price", "offer_privacy_risk", "offer_lock_in",
                            "offer_unverified")}
    per_off["offer_reliability"] = draw(hnp.arrays(np.float64, n_off, elements=st.floats(0.5, 1.0)))
    offer_region = draw(hnp.arrays(np.int64, n_off, elements=st.integers(0, 2)))
    penalty = choice_class_penalties(
        n_segments=n_seg, region_latency_penalty=np.array([0.1, 0.4, 0.2]),
        segment_quality_floor=draw(hnp.arrays(np.float64, n_seg, elements=st.floats(0.0, 0.9))),
        frontier_quality=4.0, offer_region=offer_region, offer_quality=per_off["offer_quality"])
    floor = draw(st.one_of(st.none(), hnp.arrays(np.float64, n_ent, elements=st.floats(0.0, 1.0))))
    shock = draw(st.one_of(st.none(), hnp.arrays(np.float64, n_off, elements=st.floats(-1.0, 1.0))))
    return dict(**per_ent, **per_off,
                choice_class=draw(hnp.arrays(np.int64, n_ent, elements=st.integers(0, penalty.shape[0] - 1))),
                incumbent_offer=draw(hnp.arrays(np.int64, n_ent, elements=st.integers(-1, n_off - 1))),
                class_penalty=penalty, form=draw(st.sampled_from(["linear", "log"])), offer_shock=shock,
                quality_floor=floor, frontier_quality=4.0)


@settings(max_examples=200, deadline=None)
@given(markets())
def test_the_compiled_pass_is_the_matrix_product(market: dict[str, Any]) -> None:
    """Same exclusions (EXCLUDED exactly where the reference has it) and the same utilities to 1e-12 of the
    largest term of the row (the sums add their terms in another order than BLAS)."""
    fused, reference = choice_utilities(**market), choice_utilities_reference(**market)
    excluded = reference <= 0.5 * EXCLUDED
    np.testing.assert_array_equal(fused <= 0.5 * EXCLUDED, excluded)
    size = 1.0 + np.abs(np.where(excluded, 0.0, reference)).max(initial=0.0)
    assert np.max(np.abs(np.where(excluded, 0.0, fused - reference)), initial=0.0) <= 1e-12 * size


def test_the_same_bits_at_one_and_two_threads() -> None:
    """Rows are independent: two threads write exactly what one writes."""
    rng = np.random.default_rng(5)
    n_ent, n_off = 3_000, 50
    market = {name: rng.random(n_ent) for name in ("quality_weight", "price_sensitivity", "privacy_sensitivity",
                                                  "lockin_aversion", "trust_weight", "reliability_weight",
                                                  "switching_cost")}
    market.update({name: rng.random(n_off) + 0.1 for name in ("offer_quality", "offer_price", "offer_privacy_risk",
                                                             "offer_lock_in", "offer_unverified",
                                                             "offer_reliability")})
    market.update(choice_class=rng.integers(0, 4, n_ent), incumbent_offer=rng.integers(-1, n_off, n_ent),
                  class_penalty=rng.random((4, n_off)), form="log", quality_floor=rng.random(n_ent) * 0.5)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = choice_utilities(**market)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        two = choice_utilities(**market)
    finally:
        numba.set_num_threads(before)
    assert one.tobytes() == two.tobytes()
