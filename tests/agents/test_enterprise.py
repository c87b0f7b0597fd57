"""Enterprises (agents/enterprise.py): the population's construction order, utilities, outside option, main
providers and tenure, initial contracts, demand growth, and the read-only Mesa view.

Random draws are scripted with :class:`ScriptedRng` where a test needs to know them, so every expected value
is worked out by hand in the test's docstring.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import mesa
import numpy as np
import pytest

from agents.enterprise import Enterprise, EnterprisePopulation
from market.config import RegionConfig, SegmentConfig
from market.offers import OfferBook


class ScriptedRng:
    """Stands in for ``np.random.Generator``: each method returns its next scripted array, in call order.

    ``uniform(low, high, n)`` returns ``low + (high - low) * u`` for the scripted unit draws ``u``.
    """

    def __init__(self, **draws: Sequence[Sequence[float]]) -> None:
        self.draws = {name: [np.asarray(d) for d in values] for name, values in draws.items()}

    def _next(self, name: str, size: int) -> np.ndarray:
        value = self.draws[name].pop(0)
        if len(value) != size:
            raise AssertionError(f"{name}: scripted {len(value)} draws, asked for {size}")
        return value

    def choice(self, a: int, size: int, p: np.ndarray) -> np.ndarray:
        return self._next("choice", size)

    def normal(self, loc: float, scale: float, size: int) -> np.ndarray:
        return self._next("normal", size)

    def uniform(self, low: float, high: float, size: int) -> np.ndarray:
        return low + (high - low) * self._next("uniform", size)

    def exhausted(self) -> bool:
        return all(not values for values in self.draws.values())


def segment(name: str, n: int, **changes: Any) -> SegmentConfig:
    values: dict[str, Any] = {"name": name, "n_agents": n, "demand_dispersion": 0.0}
    return SegmentConfig.model_validate({**values, **changes})


TWO_REGIONS = [RegionConfig(name="na", residency_strictness=0.5), RegionConfig(name="eu", residency_strictness=1.0)]


def scripted_population() -> tuple[EnterprisePopulation, ScriptedRng]:
    """Segment 'x' (3 agents, base demand 100, 2 firms per agent, residency propensity 0.8) draws regions
    (1, 0, 1), size shocks (0, 1, 2), no sensitivity shock, residency draws (0.3, 0.3, 0.9); segment 'y' (2 agents,
    base demand 10, no residency) draws regions (0, 1), size shocks (3, 4), residency draws (0.0, 0.0).

    Stored region by region, segment by segment, keeping draw order within a group:
    x#1 (na), y#0 (na), x#0 (eu), x#2 (eu), y#1 (eu).
    Residency: bound when u < propensity x strictness: x#0 0.3 < 0.8 x 1.0 yes; x#1 0.3 < 0.8 x 0.5 = 0.4 yes;
    x#2 0.9 < 0.8 no; y never (propensity 0)."""
    rng = ScriptedRng(
        choice=[[1, 0, 1], [0, 1]],
        normal=[[0.0, 1.0, 2.0], [0.0, 0.0, 0.0], [3.0, 4.0], [0.0, 0.0]],
        uniform=[[0.3, 0.3, 0.9], [0.0, 0.0]],
    )
    segments = [segment("x", 3, base_demand_mtok_per_month=100.0, firms_per_agent=2.0, residency_propensity=0.8,
                        price_sensitivity=1.5, quality_weight=2.0),
                segment("y", 2, base_demand_mtok_per_month=10.0, price_sensitivity=3.0, quality_weight=0.5)]
    pop = EnterprisePopulation(segments, TWO_REGIONS, rng)  # type: ignore[arg-type]
    return pop, rng


# ---------------------------------------------------------------------------------------------------------
# construction
# ---------------------------------------------------------------------------------------------------------


def test_agents_are_stored_region_by_region_then_segment_by_segment() -> None:
    """See :func:`scripted_population`: order x#1, y#0, x#0, x#2, y#1. Base demand = base x firms x e^shock:
    x: 200 e^(0, 1, 2); y: 10 e^(3, 4)."""
    pop, rng = scripted_population()
    assert rng.exhausted()
    assert pop.size == 5
    np.testing.assert_array_equal(pop.region, [0, 0, 1, 1, 1])
    np.testing.assert_array_equal(pop.segment, [0, 1, 0, 0, 1])
    np.testing.assert_allclose(pop.base_demand, [200.0 * math.e, 10.0 * math.exp(3.0), 200.0,
                                                 200.0 * math.exp(2.0), 10.0 * math.exp(4.0)], rtol=1e-15)
    np.testing.assert_array_equal(pop.weight, [2.0, 1.0, 2.0, 2.0, 1.0])
    np.testing.assert_array_equal(pop.price_sensitivity, [1.5, 3.0, 1.5, 1.5, 3.0])
    np.testing.assert_array_equal(pop.quality_weight, [2.0, 0.5, 2.0, 2.0, 0.5])
    assert pop.region_slices == [slice(0, 2), slice(2, 5)]
    assert (pop.n_segments, pop.n_regions) == (2, 2)


def test_residency_binding_and_choice_classes() -> None:
    """Bound agents (from :func:`scripted_population`): x#1 and x#0 only. Choice class =
    (segment x 2 + region) x 2 + bound: x#1 (0,0,1) -> 1; y#0 (1,0,0) -> 4; x#0 (0,1,1) -> 3; x#2 (0,1,0) -> 2;
    y#1 (1,1,0) -> 6."""
    pop, _ = scripted_population()
    np.testing.assert_array_equal(pop.residency_bound, [True, False, True, False, False])
    np.testing.assert_array_equal(pop.choice_class, [1, 4, 3, 2, 6])


def test_new_population_has_no_contracts() -> None:
    pop, _ = scripted_population()
    np.testing.assert_array_equal(pop.incumbent_provider, [-1] * 5)
    np.testing.assert_array_equal(pop.incumbent_region, [-1] * 5)
    np.testing.assert_array_equal(pop.tenure_months, [0] * 5)
    np.testing.assert_array_equal(pop.current_switching_cost(), [0.0] * 5)


def test_an_empty_region_gets_an_empty_slice() -> None:
    """Demand share (0, 1): every agent is in region 1, drawn with a real generator."""
    regions = [RegionConfig(name="na", demand_share=0.0), RegionConfig(name="eu", demand_share=1.0)]
    pop = EnterprisePopulation([segment("s", 4), segment("t", 3)], regions, np.random.default_rng(5))
    np.testing.assert_array_equal(pop.region, [1] * 7)
    np.testing.assert_array_equal(pop.segment, [0, 0, 0, 0, 1, 1, 1])
    assert pop.region_slices == [slice(0, 0), slice(0, 7)]


def test_privacy_sensitivity_is_drawn_uniformly_around_the_segment_mean() -> None:
    """privacy = mean x U(0, 2): mean 0.5 with unit draws (0.1, 0.75) -> (0.1, 0.75); a segment without privacy
    sensitivity draws nothing for it and gets zeros."""
    rng = ScriptedRng(choice=[[0, 0], [0]], normal=[[0.0, 0.0], [0.0, 0.0], [0.0], [0.0]],
                      uniform=[[0.1, 0.75], [0.5, 0.5], [0.5]])
    segments = [segment("p", 2, privacy_sensitivity=0.5), segment("q", 1)]
    pop = EnterprisePopulation(segments, [RegionConfig(name="g")], rng)  # type: ignore[arg-type]
    assert rng.exhausted()
    np.testing.assert_allclose(pop.privacy_sensitivity, [0.1, 0.75, 0.0], rtol=1e-15)


def test_price_sensitivity_dispersion_keeps_the_mean() -> None:
    """sens = b exp(z - sigma^2 / 2): b = 2, sigma = 0.5, z = (0, 0.125) -> 2 e^-0.125 and 2."""
    rng = ScriptedRng(choice=[[0, 0]], normal=[[0.0, 0.0], [0.0, 0.125]], uniform=[[0.5, 0.5]])
    seg = segment("s", 2, price_sensitivity=2.0, price_sensitivity_dispersion=0.5)
    pop = EnterprisePopulation([seg], [RegionConfig(name="g")], rng)  # type: ignore[arg-type]
    np.testing.assert_allclose(pop.price_sensitivity, [2.0 * math.exp(-0.125), 2.0], rtol=1e-15)


# ---------------------------------------------------------------------------------------------------------
# demand and switching cost
# ---------------------------------------------------------------------------------------------------------


def test_base_volume_grows_at_the_segments_rate() -> None:
    """Growth 300% a year: (1 + 3)^(6/12) = 2 after six months, 4^2 = 16 after two years."""
    pop = EnterprisePopulation([segment("s", 2, base_demand_mtok_per_month=50.0, demand_growth_per_year=3.0)],
                               [RegionConfig(name="g")], np.random.default_rng(0))
    np.testing.assert_array_equal(pop.base_volume(0), [50.0, 50.0])
    np.testing.assert_allclose(pop.base_volume(6), [100.0, 100.0], rtol=1e-15)
    np.testing.assert_allclose(pop.base_volume(24), [800.0, 800.0], rtol=1e-15)


def test_switching_cost_grows_with_tenure_up_to_its_cap() -> None:
    """Cost 0.2 + 0.6/year x tenure, capped at 1: tenure 6 -> 0.5; tenure 30 -> 1.7 capped to 1; tenure 0 -> 0.2;
    no main provider -> 0."""
    seg = segment("s", 4, switching_cost=0.2, switching_cost_growth_per_year=0.6, switching_cost_max=1.0)
    pop = EnterprisePopulation([seg], [RegionConfig(name="g")], np.random.default_rng(0))
    pop.incumbent_provider = np.array([3, 3, 3, -1])
    pop.incumbent_region = np.array([0, 0, 0, -1])
    pop.tenure_months = np.array([6, 30, 0, 0])
    np.testing.assert_allclose(pop.current_switching_cost(), [0.5, 1.0, 0.2, 0.0], rtol=1e-15)


# ---------------------------------------------------------------------------------------------------------
# utilities
# ---------------------------------------------------------------------------------------------------------


def offer_book(holder: list[int], region: list[int], **columns: list[float]) -> OfferBook:
    n = len(holder)

    def col(name: str, default: float = 0.0) -> np.ndarray:
        return np.asarray(columns.get(name, [default] * n), dtype=np.float64)

    return OfferBook(holder=np.array(holder, dtype=np.int64), region=np.array(region, dtype=np.int64),
                     kind=np.zeros(n, dtype=np.int64), owner=np.array(holder, dtype=np.int64),
                     quality=col("quality", 1.0), price=col("price", 1.0), unit_cost=col("unit_cost"),
                     capacity=col("capacity", np.inf), variable_cost=col("variable_cost"),
                     privacy_risk=col("privacy_risk"), lock_in=col("lock_in"), unverified=col("unverified"),
                     reliability=col("reliability", 1.0), via=np.full(n, -1, dtype=np.int64))


def two_agent_population() -> EnterprisePopulation:
    """Agent 0 (segment a): quality weight 2, price sensitivity 1, privacy 0.5 (set), lock-in aversion 0.4, trust
    weight 1, reliability weight 10, switching cost 0.3, main provider 5 in region 0 (tenure 0).
    Agent 1 (segment b): quality weight 1, price sensitivity 2, privacy 0, lock-in aversion 0, trust 0, reliability 0,
    switching cost 0.3 but no main provider. One region."""
    segments = [segment("a", 1, quality_weight=2.0, price_sensitivity=1.0, lockin_aversion=0.4, trust_weight=1.0,
                        reliability_weight=10.0, switching_cost=0.3),
                segment("b", 1, quality_weight=1.0, price_sensitivity=2.0, switching_cost=0.3)]
    pop = EnterprisePopulation(segments, [RegionConfig(name="g")], np.random.default_rng(0))
    pop.privacy_sensitivity = np.array([0.5, 0.0])
    pop.update_main_providers(np.array([5, -1]), np.array([0, -1]))
    pop.tenure_months = np.array([0, 0])
    return pop


def test_linear_utilities_of_two_agents_with_a_switching_cost_on_non_incumbent_offers() -> None:
    """Offers: provider 5 (q 3, p 2, privacy 0.2, lock-in 0.5, unverified 0, reliability 0.99), provider 7 (q 2,
    p 1, privacy 0, lock-in 0, unverified 0.5, reliability 0.9). Class penalty: class 0 (agent 0) -0.25 on offer 1,
    class 2 (agent 1) -1 on offer 0; shocks (0.1, -0.1). Linear utility
    u = w q - b p - priv risk - lockaversion lock - trust unverified - rel (1 - r) + penalty + shock - switch:

    agent 0, offer 0 (its main provider): 6 - 2 - 0.1 - 0.2 - 0 - 0.1 + 0 + 0.1 = 3.7
    agent 0, offer 1: 4 - 1 - 0 - 0 - 0.5 - 1.0 - 0.25 - 0.1 - 0.3 = 0.85
    agent 1, offer 0: 3 - 4 - 1 + 0.1 = -1.9;  offer 1: 2 - 2 - 0.1 = -0.1 (no main provider: no switching cost)."""
    pop = two_agent_population()
    offers = offer_book([5, 7], [0, 0], quality=[3.0, 2.0], price=[2.0, 1.0], privacy_risk=[0.2, 0.0],
                        lock_in=[0.5, 0.0], unverified=[0.0, 0.5], reliability=[0.99, 0.9])
    penalty = np.zeros((4, 2))
    penalty[0, 1] = -0.25
    penalty[2, 0] = -1.0
    utility = pop.utilities(offers, penalty, "linear", np.array([0.1, -0.1]))
    np.testing.assert_allclose(utility, [[3.7, 0.85], [-1.9, -0.1]], rtol=0, atol=1e-13)


def test_log_utilities_without_shock() -> None:
    """Log utility u = w ln q - b ln p - switch (other terms 0 here): offers q (e, e^2), p (e, 1).
    Agent 0 (w 2, b 1, main provider 5 = offer 0): offer 0: 2 - 1 = 1; offer 1: 4 - 0 - 0.3 - 10 x 0.01 = 3.6
    (reliability 0.99 on both). Agent 1 (w 1, b 2): offer 0: 1 - 2 = -1; offer 1: 2."""
    pop = two_agent_population()
    offers = offer_book([5, 7], [0, 0], quality=[math.e, math.e ** 2], price=[math.e, 1.0], reliability=[0.99, 0.99])
    utility = pop.utilities(offers, np.zeros((4, 2)), "log", None)
    np.testing.assert_allclose(utility, [[1.0 - 0.1, 3.6], [-1.0, 2.0]], rtol=0, atol=1e-13)


def test_main_provider_offer_in_another_region_is_not_the_incumbent_offer() -> None:
    """Agent 0's main provider is 5 in region 0; provider 5's only offer is in region 1 of two, so every offer
    carries agent 0's switching cost 0.3: linear u = 2 x 1 - 1 x 1 - 0.3 = 0.7 on both."""
    segments = [segment("a", 1, quality_weight=2.0, price_sensitivity=1.0, switching_cost=0.3)]
    regions = [RegionConfig(name="r0", demand_share=1.0), RegionConfig(name="r1", demand_share=0.0)]
    pop = EnterprisePopulation(segments, regions, np.random.default_rng(0))
    pop.update_main_providers(np.array([5]), np.array([0]))
    pop.tenure_months = np.array([0])
    utility = pop.utilities(offer_book([5, 7], [1, 0]), np.zeros((4, 2)), "linear", None)
    np.testing.assert_allclose(utility, [[0.7, 0.7]], rtol=0, atol=1e-15)


def test_outside_utilities() -> None:
    """Not buying: a0 = -0.5 for everyone. Self-hosting (log form, quality e, penalty 1, mu 0.5): agent 0 (w 2, b 1,
    region cost e) u_self = 2 - 1 - 1 = 0 -> 0.5 ln(e^-1 + e^0); agent 1 (w 1, b 2, cost e^-1) u_self = 1 + 2 - 1 = 2
    -> 0.5 ln(e^-1 + e^4)."""
    regions = [RegionConfig(name="r0"), RegionConfig(name="r1")]
    rng = ScriptedRng(choice=[[0], [1]], normal=[[0.0], [0.0], [0.0], [0.0]], uniform=[[0.5], [0.5]])
    segments = [segment("a", 1, quality_weight=2.0, price_sensitivity=1.0),
                segment("b", 1, quality_weight=1.0, price_sensitivity=2.0)]
    pop = EnterprisePopulation(segments, regions, rng)  # type: ignore[arg-type]
    kwargs: dict[str, Any] = {"not_buying_value": -0.5, "self_host_quality": math.e, "self_host_penalty": 1.0,
                              "mu": 0.5, "form": "log"}
    np.testing.assert_array_equal(pop.outside_utilities(self_host_cost_by_region=None, **kwargs), [-0.5, -0.5])
    got = pop.outside_utilities(self_host_cost_by_region=np.array([math.e, math.exp(-1.0)]), **kwargs)
    expected = [0.5 * math.log(math.exp(-1.0) + 1.0), 0.5 * math.log(math.exp(-1.0) + math.exp(4.0))]
    np.testing.assert_allclose(got, expected, rtol=1e-14)


# ---------------------------------------------------------------------------------------------------------
# main providers and tenure
# ---------------------------------------------------------------------------------------------------------


def population(n: int) -> EnterprisePopulation:
    return EnterprisePopulation([segment("s", n)], [RegionConfig(name="g")], np.random.default_rng(0))


def test_record_main_providers_picks_the_offer_serving_each_agent_most() -> None:
    """Offers of providers (2, 4, 6) in regions (0, 1, 0). Agent 0 is served (1, 5, 2): main 4 in region 1;
    agent 1 nothing: -1; agent 2 (4, 4, 0), a tie: the first offer, provider 2 in region 0; agent 3 (0, 0, 0.5):
    provider 6."""
    pop = population(4)
    allocation = np.array([[1.0, 5.0, 2.0], [0.0, 0.0, 0.0], [4.0, 4.0, 0.0], [0.0, 0.0, 0.5]])
    pop.record_main_providers(allocation, np.array([2, 4, 6]), np.array([0, 1, 0]))
    np.testing.assert_array_equal(pop.incumbent_provider, [4, -1, 2, 6])
    np.testing.assert_array_equal(pop.incumbent_region, [1, -1, 0, 0])
    np.testing.assert_array_equal(pop.tenure_months, [1, 0, 1, 1])


def test_record_main_providers_without_offers() -> None:
    pop = population(2)
    pop.update_main_providers(np.array([3, 3]), np.array([0, 0]))
    pop.record_main_providers(np.zeros((2, 0)), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    np.testing.assert_array_equal(pop.incumbent_provider, [-1, -1])
    np.testing.assert_array_equal(pop.incumbent_region, [-1, -1])
    np.testing.assert_array_equal(pop.tenure_months, [0, 0])


def test_tenure_grows_while_the_main_provider_stays() -> None:
    """Starting from (provider, region, tenure) = (4, 1, 5), (2, 0, 3), (4, 1, 7), (4, 1, 2):
    agent 0 stays with 4 in region 1 -> 6; agent 1 buys nothing -> none, 0; agent 2 switches to 2 -> 1;
    agent 3 stays with provider 4 but in region 0 -> a new contract, 1."""
    pop = population(4)
    pop.incumbent_provider = np.array([4, 2, 4, 4])
    pop.incumbent_region = np.array([1, 0, 1, 1])
    pop.tenure_months = np.array([5, 3, 7, 2])
    pop.update_main_providers(np.array([4, -1, 2, 4]), np.array([1, -1, 0, 0]))
    np.testing.assert_array_equal(pop.incumbent_provider, [4, -1, 2, 4])
    np.testing.assert_array_equal(pop.incumbent_region, [1, -1, 0, 0])
    np.testing.assert_array_equal(pop.tenure_months, [6, 0, 1, 1])
    for month in range(2, 5):
        pop.update_main_providers(np.array([4, 3, 2, 4]), np.array([1, 0, 0, 0]))
        np.testing.assert_array_equal(pop.tenure_months, [5 + month, month - 1, month, month])


def test_an_agent_without_a_main_provider_has_no_tenure() -> None:
    """An agent that buys nothing for three months has no main provider, so its tenure stays 0 (as
    ``release_customers_of`` and a month without service after a contract both leave it)."""
    pop = population(1)
    for _ in range(3):
        pop.update_main_providers(np.array([-1]), np.array([-1]))
    np.testing.assert_array_equal(pop.incumbent_provider, [-1])
    np.testing.assert_array_equal(pop.tenure_months, [0])


def test_release_customers_of_providers_that_left() -> None:
    """Providers 3 and 8 exit: agents 0 and 2 (with 3) and 4 (with 8) lose their main provider and tenure."""
    pop = population(5)
    pop.incumbent_provider = np.array([3, 5, 3, -1, 8])
    pop.incumbent_region = np.array([0, 0, 0, -1, 0])
    pop.tenure_months = np.array([4, 6, 2, 0, 9])
    pop.release_customers_of([3, 8])
    np.testing.assert_array_equal(pop.incumbent_provider, [-1, 5, -1, -1, -1])
    np.testing.assert_array_equal(pop.incumbent_region, [-1, 0, -1, -1, -1])
    np.testing.assert_array_equal(pop.tenure_months, [0, 6, 0, 0, 0])


# ---------------------------------------------------------------------------------------------------------
# initial contracts
# ---------------------------------------------------------------------------------------------------------


def test_initial_contracts_in_proportion_to_capacity_in_the_agents_region() -> None:
    """Five agents, regions (0, 0, 1, 1, 1) (scripted). Contract share 0.5, tenure max 11.
    Has-a-contract draws (0.1, 0.2, 0.9, 0.3, 0.4) -> all but agent 2. Capacity rows for providers (4, 9):
    region 0 (30, 10) -> cdf (0.75, 1); region 1 (0, 40) -> cdf (0, 1).
    Pick draws (0.5, 0.8, -, 0.0, 0.99): agent 0 -> 4, agent 1 -> 9 (0.8 > 0.75), agents 3, 4 -> 9 (the provider
    without capacity in region 1 is never picked, even at u = 0). Tenure draws x 12, floored:
    (0.5, 0.99, 0.2, 0.0, 0.25) -> (6, 11, -, 0, 3)."""
    rng = ScriptedRng(choice=[[0, 0, 1, 1, 1]], normal=[[0.0] * 5, [0.0] * 5],
                      uniform=[[0.5] * 5,  # residency (propensity 0)
                               [0.1, 0.2, 0.9, 0.3, 0.4], [0.5, 0.8, 0.5, 0.0, 0.99],
                               [0.5, 0.99, 0.2, 0.0, 0.25]])
    seg = segment("s", 5, initial_contract_share=0.5, initial_tenure_months_max=11)
    pop = EnterprisePopulation([seg], [RegionConfig(name="r0"), RegionConfig(name="r1")], rng)  # type: ignore[arg-type]
    capacity = np.array([[30.0, 0.0], [10.0, 40.0]])
    pop.draw_initial_contracts([seg], capacity, np.array([4, 9]), rng)  # type: ignore[arg-type]
    assert rng.exhausted()
    np.testing.assert_array_equal(pop.incumbent_provider, [4, 9, -1, 9, 9])
    np.testing.assert_array_equal(pop.incumbent_region, [0, 0, -1, 1, 1])
    np.testing.assert_array_equal(pop.tenure_months, [6, 11, 0, 0, 3])


def test_no_initial_contracts_in_a_region_without_capacity() -> None:
    """Every agent wants a contract (share 1) but region 1 has no capacity: only region 0's agent gets one."""
    rng = ScriptedRng(choice=[[0, 1]], normal=[[0.0] * 2, [0.0] * 2],
                      uniform=[[0.5] * 2, [0.0, 0.0], [0.5, 0.5], [0.0, 0.0]])
    seg = segment("s", 2, initial_contract_share=1.0)
    pop = EnterprisePopulation([seg], [RegionConfig(name="r0"), RegionConfig(name="r1")], rng)  # type: ignore[arg-type]
    pop.draw_initial_contracts([seg], np.array([[5.0, 0.0]]), np.array([2]), rng)  # type: ignore[arg-type]
    np.testing.assert_array_equal(pop.incumbent_provider, [2, -1])
    np.testing.assert_array_equal(pop.incumbent_region, [0, -1])


# ---------------------------------------------------------------------------------------------------------
# the read-only Mesa view
# ---------------------------------------------------------------------------------------------------------


def test_enterprise_view_reads_its_row_of_the_population() -> None:
    """Agent 2 of :func:`scripted_population` is x#0: segment 0, region 1, base demand 200, bound."""
    pop, _ = scripted_population()
    model = mesa.Model(rng=np.random.default_rng(0))
    e = Enterprise(model, 2, pop)
    assert e.kind == "enterprise"
    assert (e.segment, e.region, e.base_demand, e.residency_bound) == (0, 1, 200.0, True)
    assert isinstance(e.segment, int)
    pop.tenure_months[2] = 7
    assert e.tenure_months == 7
    with pytest.raises(AttributeError):
        _ = e.n_regions  # not a per-agent array
    with pytest.raises(AttributeError):
        _ = e.region_slices
    with pytest.raises(AttributeError):
        _ = e.no_such_attribute
