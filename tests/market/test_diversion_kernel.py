"""The compiled cross-slope pass of diversion with task classes (market/diversion_kernel.py) against the numpy
reference it replaces (``market.pricing.diversion_margin_reference``) and against a hand calculation.

Independent answers: the numpy reference (one product over the (enterprise, class) rows) and the literal E x K x
O sum of the module docstring on random markets (hypothesis); a two-offer, one-buyer market by hand; the same
bits at one and two numba threads.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from market import kernel_passes
from market.clearing import logit_shares
from market.diversion_kernel import group_cross
from market.pricing import demand_slopes, diversion_margin, diversion_margin_reference
from market.task_classes import ClassAlgebra, TaskClasses, over


@st.composite
def class_markets(draw: st.DrawFn) -> dict[str, Any]:
    """1-150 buyers (more than the 64 row blocks) in 1-3 routing groups, 1-4 classes with random eligibility (a
    class with nothing eligible when drawn), 2-9 offers split into owner groups of 1-4 offers, zero volumes."""
    n_ent, n_off = draw(st.integers(1, 150)), draw(st.integers(2, 9))
    n_groups, n_classes = draw(st.integers(1, 3)), draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    utility = rng.normal(0.0, 1.5, (n_ent, n_off))
    outside = rng.normal(0.0, 1.5, n_ent)
    mu = draw(st.floats(0.2, 2.0))
    shares, outside_share = logit_shares(utility, outside, mu)
    eligible = draw(hnp.arrays(np.bool_, (n_groups, n_classes, n_off)))
    if draw(st.booleans()):  # a class of one routing group with no eligible offer
        eligible[draw(st.integers(0, n_groups - 1)), draw(st.integers(0, n_classes - 1))] = False
    raw_mix = rng.uniform(0.0, 1.0, (n_groups, n_classes)) + 1e-3
    volume = rng.uniform(0.0, 50.0, n_ent) * (rng.random(n_ent) < draw(st.floats(0.3, 1.0)))  # some zero volumes
    sizes = draw(st.lists(st.integers(1, 4), min_size=1, max_size=n_off))
    order = rng.permutation(n_off)
    cuts = np.cumsum(sizes)
    groups = [np.sort(g) for g in np.split(order, cuts[cuts < n_off]) if len(g)]
    return {
        "shares": shares, "outside": outside_share, "volume": volume, "mu": mu,
        "sensitivity": rng.uniform(0.2, 2.0, n_ent), "price": rng.uniform(0.1, 5.0, n_off),
        "margin": rng.uniform(-1.0, 3.0, n_off), "groups": groups, "form": draw(st.sampled_from(["linear", "log"])),
        "classes": TaskClasses(group=rng.integers(0, n_groups, n_ent), mix=raw_mix / raw_mix.sum(axis=1, keepdims=True),
                               eligible=eligible),
    }


def literal_cross(m: dict[str, Any], idx: np.ndarray) -> np.ndarray:
    """``sum_{e,k} cw[e,k] s'[e,k,i] s'[e,k,j]`` with ``s' = S A`` built as an E x K x O array (module docstring of
    market/diversion_kernel.py), zero diagonal."""
    classes = m["classes"]
    a = classes.eligible[classes.group].astype(float)  # E x K x O
    den = (m["shares"][:, None, :] * a).sum(axis=2) + m["outside"][:, None]
    cw = (m["sensitivity"] / m["mu"])[:, None] * over(m["volume"][:, None] * classes.mix[classes.group], den * den)
    part = m["shares"][:, None, idx] * a[:, :, idx]
    cross = np.einsum("ek,eki,ekj->ij", cw, part, part)
    np.fill_diagonal(cross, 0.0)
    return cross


def class_weight(m: dict[str, Any]) -> np.ndarray:
    """``cw[e,k] = (b_e / mu) V[e,k] / den[e,k]^2`` as ``diversion_margin`` computes it."""
    algebra = ClassAlgebra.of(m["classes"])
    den = algebra.denominators(m["shares"], m["outside"])
    return (m["sensitivity"] / m["mu"])[:, None] * over(over(algebra.class_volume(m["volume"]), den), den)


@settings(max_examples=150, deadline=None)
@given(class_markets())
def test_cross_matrices_equal_the_literal_class_sum(m: dict[str, Any]) -> None:
    classes = m["classes"]
    crosses = group_cross(m["shares"], classes.group, classes.eligible.astype(float), class_weight(m), m["groups"])
    for idx, cross in zip(m["groups"], crosses, strict=True):
        want = literal_cross(m, idx)
        np.testing.assert_allclose(cross, want, rtol=1e-12, atol=1e-300)
        assert np.array_equal(cross, cross.T) and np.all(np.diag(cross) == 0.0)


@settings(max_examples=150, deadline=None)
@given(class_markets())
def test_diversion_margin_equals_the_numpy_reference(m: dict[str, Any]) -> None:
    """Every term ``m_j DR_ij`` agrees to 1e-12 relative, so the recaptured margin agrees to 1e-12 of the sum of
    their absolute values (margins of either sign may cancel)."""
    classes = m["classes"]
    slopes = demand_slopes(m["shares"], m["volume"], m["sensitivity"], m["mu"], m["price"], m["form"],
                           classes=classes, outside_share=m["outside"])
    args = (m["shares"], m["volume"], m["sensitivity"], m["mu"], m["price"], m["margin"], slopes.own_slope,
            m["groups"], m["form"])
    got = diversion_margin(*args, classes=classes, outside_share=m["outside"])
    want = diversion_margin_reference(*args, classes=classes, outside_share=m["outside"])
    scale = diversion_margin_reference(*args[:5], np.abs(m["margin"]), *args[6:], classes=classes,
                                       outside_share=m["outside"])
    np.testing.assert_array_less(np.abs(got - want), 1e-12 * scale + 1e-300)
    singles = np.concatenate([g for g in m["groups"] if len(g) == 1] + [np.zeros(0, dtype=int)])
    assert np.all(got[singles] == 0.0)


def test_one_buyer_two_offers_by_hand() -> None:
    """One buyer, classes ``k0`` (both offers eligible, 40 % of the volume) and ``k1`` (offer 1 only, 60 %):
    only ``k0`` has both offers, so ``cross_01 = (b / mu) V_0 S_0 S_1 / den_0^2`` with ``den_0 = S_0 + S_1 + S0``.
    With ``S = (0.2, 0.3)``, ``S0 = 0.5``, ``V = 10``, ``b / mu = 2``: ``V_0 = 4``, ``den_0 = 1``,
    ``cross_01 = 2 * 4 * 0.06 = 0.48``."""
    shares, outside = np.array([[0.2, 0.3]]), np.array([0.5])
    classes = TaskClasses(group=np.zeros(1, dtype=np.int64), mix=np.array([[0.4, 0.6]]),
                          eligible=np.array([[[True, True], [False, True]]]))
    m: dict[str, Any] = {"shares": shares, "outside": outside, "volume": np.array([10.0]),
                         "sensitivity": np.array([1.0]), "mu": 0.5, "classes": classes}
    (cross,) = group_cross(shares, classes.group, classes.eligible.astype(float), class_weight(m), [np.arange(2)])
    np.testing.assert_allclose(cross, [[0.0, 0.48], [0.48, 0.0]], rtol=1e-15)
    # recapture of offer 0 with margin 1 on offer 1, linear utility (g' = 1), own slope 1: 0.48
    got = diversion_margin(shares, m["volume"], m["sensitivity"], 0.5, np.ones(2), np.array([0.0, 1.0]),
                           np.ones(2), [np.arange(2)], "linear", classes=classes, outside_share=outside)
    np.testing.assert_allclose(got, [0.48, 0.0], rtol=1e-15)


def test_no_eligible_pair_gives_no_cross_term() -> None:
    """Offers never eligible in the same class divert nothing to each other (class-restricted logit)."""
    rng = np.random.default_rng(3)
    shares, outside = logit_shares(rng.normal(size=(20, 3)), rng.normal(size=20), 0.7)
    classes = TaskClasses(group=np.zeros(20, dtype=np.int64), mix=np.array([[0.5, 0.5]]),
                          eligible=np.array([[[True, False, True], [False, True, False]]]))
    m: dict[str, Any] = {"shares": shares, "outside": outside, "volume": rng.uniform(1, 5, 20),
                         "sensitivity": np.ones(20), "mu": 0.7, "classes": classes}
    (cross,) = group_cross(shares, classes.group, classes.eligible.astype(float), class_weight(m), [np.arange(3)])
    assert cross[0, 1] == cross[1, 2] == 0.0 and cross[0, 2] > 0.0


def test_same_bits_at_one_and_two_threads() -> None:
    if numba.config.NUMBA_NUM_THREADS < 2:  # type: ignore[attr-defined]
        pytest.skip("numba has a single thread on this machine")
    rng = np.random.default_rng(5)
    n_ent, n_off = 3_000, 17
    shares, outside = logit_shares(rng.normal(size=(n_ent, n_off)), rng.normal(size=n_ent), 0.5)
    classes = TaskClasses(group=rng.integers(0, 3, n_ent), mix=np.full((3, 3), 1 / 3),
                          eligible=rng.random((3, 3, n_off)) < 0.7)
    m: dict[str, Any] = {"shares": shares, "outside": outside, "volume": rng.uniform(1, 5, n_ent),
                         "sensitivity": np.ones(n_ent), "mu": 0.5, "classes": classes}
    groups = [np.arange(0, 6), np.arange(6, 10), np.arange(10, n_off)]
    before = kernel_passes.THREADS
    results = []
    try:
        for n_threads in (1, 2):
            kernel_passes.THREADS = n_threads
            results.append(group_cross(shares, classes.group, classes.eligible.astype(float), class_weight(m), groups))
    finally:
        kernel_passes.THREADS = before
    for a, b in zip(*results, strict=True):
        assert a.tobytes() == b.tobytes()
