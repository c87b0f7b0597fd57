"""What pricing observes from a clearing (market/observation.py): demand, slopes, recapture and rival prices.

Hand values follow the logit slopes in the module docstring of market/pricing.py, with ``w_e = V_e b_e / mu``:
``-dD_i/dp_i = sum_e w_e s_ei (1 - s_ei)``, ``dD_j/dp_i = sum_e w_e s_ei s_ej`` (linear utility), and the
recaptured margin ``sum_{j in G, j != i} m_j (dD_j/dp_i) / (-dD_i/dp_i)`` over the owner's offers ``G`` (or all
offers for the industry).
"""

from __future__ import annotations

import numpy as np

from market.observation import MarketObservation, observe_market
from market.offers import OfferBook
from market.pricing import demand_slopes, diversion_margin


def offer_book(holder: list[int], owner: list[int], region: list[int], price: list[float],
               unit_cost: list[float]) -> OfferBook:
    n = len(holder)
    return OfferBook(holder=np.array(holder, dtype=np.int64), region=np.array(region, dtype=np.int64),
                     kind=np.zeros(n, dtype=np.int64), owner=np.array(owner, dtype=np.int64), quality=np.ones(n),
                     price=np.array(price), unit_cost=np.array(unit_cost), capacity=np.full(n, np.inf),
                     variable_cost=np.array(unit_cost), privacy_risk=np.zeros(n), lock_in=np.zeros(n),
                     unverified=np.zeros(n), reliability=np.ones(n), via=np.full(n, -1, dtype=np.int64))


# One buyer, V = 10, b = 2, mu = 0.5 (w = 40), shares 0.2 / 0.3 / 0.1; offers 0 and 1 have owner 0 (holders 0
# and 1), offer 2 owner 1 (holder 2); prices 3 / 4 / 5, unit costs 1 / 1 / 2 (margins 2 / 3 / 3); one region.
OFFERS = offer_book([0, 1, 2], [0, 0, 1], [0, 0, 0], [3.0, 4.0, 5.0], [1.0, 1.0, 2.0])
SHARES = np.array([[0.2, 0.3, 0.1]])
VOLUME = np.array([10.0])
B = np.array([2.0])


def observe(observes: set[str]) -> MarketObservation:
    return observe_market(OFFERS, SHARES, VOLUME, B, 0.5, "linear", observes)


def test_observation_by_hand_without_recapture_terms() -> None:
    """demand = 10 * s = 2 / 3 / 1; own slope = 40 s (1 - s) = 6.4 / 8.4 / 3.6; beta = b / mu = 4 for every offer.
    Rival prices (demand-weighted, other owners): offers 0 and 1 face offer 2: 5; offer 2 faces
    (2 * 3 + 3 * 4) / 5 = 3.6. Recapture terms are zero unless requested."""
    obs = observe(set())
    np.testing.assert_allclose(obs.demand, [2.0, 3.0, 1.0], rtol=1e-14)
    np.testing.assert_allclose(obs.own_slope, [6.4, 8.4, 3.6], rtol=1e-14)
    np.testing.assert_allclose(obs.beta, [4.0, 4.0, 4.0], rtol=1e-14)
    np.testing.assert_allclose(obs.rival_price, [5.0, 5.0, 3.6], rtol=1e-14)
    np.testing.assert_array_equal(obs.recapture_owner, [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(obs.recapture_industry, [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(obs.holder, [0, 1, 2])
    np.testing.assert_array_equal(obs.region, [0, 0, 0])


def test_owner_recapture_by_hand() -> None:
    """Cross slope of offers 0 and 1: 40 * 0.2 * 0.3 = 2.4. Offer 0 recaptures 3 * 2.4 / 6.4 = 1.125, offer 1
    recaptures 2 * 2.4 / 8.4 = 4/7, offer 2 (alone) 0. The industry term stays zero when not requested."""
    obs = observe({"recapture_owner"})
    np.testing.assert_allclose(obs.recapture_owner, [1.125, 4 / 7, 0.0], rtol=1e-14)
    np.testing.assert_array_equal(obs.recapture_industry, [0.0, 0.0, 0.0])


def test_industry_recapture_by_hand() -> None:
    """Cross slopes 2.4 (0, 1), 40 * 0.2 * 0.1 = 0.8 (0, 2), 40 * 0.3 * 0.1 = 1.2 (1, 2). Offer 0:
    (3 * 2.4 + 3 * 0.8) / 6.4 = 1.5; offer 1: (2 * 2.4 + 3 * 1.2) / 8.4 = 1; offer 2: (2 * 0.8 + 3 * 1.2) / 3.6
    = 13/9."""
    obs = observe({"recapture_industry", "recapture_owner"})
    np.testing.assert_allclose(obs.recapture_industry, [1.5, 1.0, 13 / 9], rtol=1e-14)
    np.testing.assert_allclose(obs.recapture_owner, [1.125, 4 / 7, 0.0], rtol=1e-14)


def test_owner_recapture_is_diversion_margin_over_each_owners_offers() -> None:
    """Two buyers, log utility, four offers of owners 0, 1, 0, 1 in two regions: the owner term equals
    market.pricing.diversion_margin with the groups {0, 2} and {1, 3}, and the industry term the same with one
    group of all four offers."""
    offers = offer_book([0, 1, 2, 3], [0, 1, 0, 1], [0, 0, 1, 1], [2.0, 3.0, 2.5, 1.5], [1.0, 1.2, 0.8, 1.0])
    shares = np.array([[0.1, 0.2, 0.3, 0.15], [0.25, 0.05, 0.1, 0.2]])
    volume, b, mu = np.array([5.0, 8.0]), np.array([1.5, 3.0]), 0.4
    obs = observe_market(offers, shares, volume, b, mu, "log", {"recapture_owner", "recapture_industry"})
    slopes = demand_slopes(shares, volume, b, mu, offers.price, "log")
    margin = offers.price - offers.variable_cost
    owner = diversion_margin(shares, volume, b, mu, offers.price, margin, slopes.own_slope,
                             [np.array([0, 2]), np.array([1, 3])], "log")
    industry = diversion_margin(shares, volume, b, mu, offers.price, margin, slopes.own_slope, [np.arange(4)], "log")
    np.testing.assert_allclose(obs.recapture_owner, owner, rtol=1e-14)
    np.testing.assert_allclose(obs.recapture_industry, industry, rtol=1e-14)
    assert np.all(obs.recapture_owner > 0.0)


def test_index_of_finds_an_offer_by_holder_and_region() -> None:
    """Offers (4, 0), (4, 1), (7, 0): (4, 1) is at 1, (7, 0) at 2; (7, 1) and (9, 0) were not posted: -1."""
    obs = observe(set())
    obs = MarketObservation(holder=np.array([4, 4, 7]), region=np.array([0, 1, 0]), demand=obs.demand,
                            own_slope=obs.own_slope, beta=obs.beta, recapture_owner=obs.recapture_owner,
                            recapture_industry=obs.recapture_industry, rival_price=obs.rival_price)
    assert [obs.index_of(4, 1), obs.index_of(7, 0), obs.index_of(4, 0), obs.index_of(7, 1), obs.index_of(9, 0)] == [
        1, 2, 0, -1, -1]


def test_rivals_are_other_owners_offers_of_the_same_region_and_tier() -> None:
    """Offers (holder, region, tier): 0 = (0, 0, 0), 1 = (0, 0, 1), 2 = (1, 0, 0), 3 = (1, 0, 1), 4 = (2, 1, 1);
    each owner its own holder. Shares 0.1 / 0.2 / 0.3 / 0.1 / 0.1 of volume 10 give demands 1 / 2 / 3 / 1 / 1.
    Offer 0's rival is offer 2 (price 5); offer 1's is offer 3 (price 2); offer 4 has none in region 1 tier 1.
    The mean price of region 0's tier-1 offers is (2 * 4 + 1 * 2) / 3 = 10/3."""
    from dataclasses import replace

    book = offer_book([0, 0, 1, 1, 2], [0, 0, 1, 1, 2], [0, 0, 0, 0, 1], [3.0, 4.0, 5.0, 2.0, 6.0], [1.0] * 5)
    book = replace(book, tier=np.array([0, 1, 0, 1, 1]), pool=np.array([0, 0, 1, 1, 2]))
    obs = observe_market(book, np.array([[0.1, 0.2, 0.3, 0.1, 0.1]]), np.array([10.0]), np.array([1.0]), 0.5,
                         "linear", set())
    np.testing.assert_allclose(obs.rival_price[:4], [5.0, 2.0, 3.0, 4.0])
    assert np.isnan(obs.rival_price[4])
    assert obs.index_of(1, 0, 1) == 3 and obs.index_of(2, 1, 0) == -1
    np.testing.assert_allclose([obs.price_in_region(0, 1), obs.price_in_region(0, 0)],
                               [10.0 / 3.0, (1 * 3.0 + 3 * 5.0) / 4.0], rtol=1e-12)
    assert np.isnan(obs.price_in_region(2, 0))  # no offer in region 2 (market id 2 is region 0's tier 1)
