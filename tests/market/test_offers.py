"""What buyers and pricing read off the offer book (market/offers.py): each enterprise's incumbent offer and
rivals' demand-weighted prices, on hand-made offers.

Expected values by hand from the docstrings of market/offers.py:
``rival_o = sum_{k in r, owner_k != owner_o} d_k p_k / sum_{k in r, owner_k != owner_o} d_k`` (the plain mean
when rivals have no demand in the region, NaN when there is no rival).
"""

from __future__ import annotations

import numpy as np

from market.offers import incumbent_offer_index, rival_prices


def ints(values: list[int]) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def test_incumbent_offer_is_the_main_providers_offer_in_the_buyers_region() -> None:
    """Offers (holder, region): 0 = (3, 0), 1 = (1, 1), 2 = (3, 1), 3 = (0, 0); two regions.

    Buyers' (incumbent, region) and the offer found: (3, 1) -> 2; (3, 0) -> 0; (1, 1) -> 1; (1, 0) -> -1
    (provider 1 posts nothing in region 0); (-1, 0) -> -1 (no incumbent); (2, 0) -> -1 (provider 2 posts
    nothing); (0, 1) -> -1; (5, 1) -> -1 (beyond every offer's key); (0, 0) -> 3."""
    found = incumbent_offer_index(ints([3, 1, 3, 0]), ints([0, 1, 1, 0]),
                                  ints([3, 3, 1, 1, -1, 2, 0, 5, 0]), ints([1, 0, 1, 0, 0, 0, 1, 1, 0]), n_regions=2)
    np.testing.assert_array_equal(found, [2, 0, 1, -1, -1, -1, -1, -1, 3])


def test_incumbent_offer_without_offers() -> None:
    """No offers this step: every buyer's incumbent offer is -1."""
    found = incumbent_offer_index(ints([]), ints([]), ints([0, 2, -1]), ints([0, 1, 0]), n_regions=2)
    np.testing.assert_array_equal(found, [-1, -1, -1])


def test_an_incumbent_of_region_minus_one_does_not_collide_with_a_neighbour() -> None:
    """With no incumbent (-1) in region 1 the key is -1 * 2 + 1 = -1, below every offer's key: -1, even though
    holder 0 posts an offer in region 0 (key 0)."""
    found = incumbent_offer_index(ints([0]), ints([0]), ints([-1]), ints([1]), n_regions=2)
    np.testing.assert_array_equal(found, [-1])


def test_rival_prices_by_hand() -> None:
    """Offers (owner, region, price, demand): o0 (0, 0, 1, 10), o1 (0, 0, 2, 30), o2 (1, 0, 3, 20),
    o3 (2, 0, 4, 40), o4 (1, 1, 5, 50), o5 (2, 1, 6, 25), o6 (0, 2, 7, 5), o7 (1, 2, 9, 0).

    Region 0: owner 0 has two offers, and both face o2 and o3: (20 * 3 + 40 * 4) / 60 = 220 / 60 = 11/3.
    o2 faces o0, o1, o3: (10 + 60 + 160) / 80 = 2.875; o3 faces o0, o1, o2: (10 + 60 + 60) / 60 = 13/6.
    Region 1: o4 faces o5: 6; o5 faces o4: 5. Region 2: o6's only rival has no demand, so its plain price counts:
    9; o7 faces o6: 7."""
    rival = rival_prices(price=np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 9.0]),
                         demand=np.array([10.0, 30.0, 20.0, 40.0, 50.0, 25.0, 5.0, 0.0]),
                         owner=ints([0, 0, 1, 2, 1, 2, 0, 1]), region=ints([0, 0, 0, 0, 1, 1, 2, 2]))
    np.testing.assert_allclose(rival, [11 / 3, 11 / 3, 2.875, 13 / 6, 6.0, 5.0, 9.0, 7.0], rtol=1e-14)


def test_rival_prices_of_a_lone_owner_and_of_no_offers() -> None:
    """One owner with two offers in a region has no rivals: NaN for both. No offers: an empty array."""
    rival = rival_prices(np.array([1.0, 2.0]), np.array([3.0, 4.0]), ints([7, 7]), ints([0, 0]))
    assert np.isnan(rival).all() and rival.shape == (2,)
    assert rival_prices(np.zeros(0), np.zeros(0), ints([]), ints([])).shape == (0,)
