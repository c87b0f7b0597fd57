"""Collection of a run's outputs (market/recording.py) from a step outcome built by hand.

Two offers (a hyperscaler's in region 0 at $2/Mtok and a decentralized provider's in region 1 at $1/Mtok),
three holders (the two providers and a reseller), four enterprises in two regions and one segment. Expected
values are worked out by hand from the column definitions in docs/ODD.md 7.13: price index = spend / tokens,
HHI = sum of squared revenue shares (%) by ultimate owner, shares of tokens by kind, margin = sum profit / sum
revenue by kind, utilization over offers of finite capacity, volume-weighted outside share.

Allocation (Mtok, enterprise x offer): e0 [4, 1], e1 [8, 2] (region 0), e2 [3, 9], e3 [5, 15] (region 1):
served = [20, 27], revenue = [40, 27], spend per enterprise = [9, 18, 15, 25] (67 in all).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from market.accounts import Settlement
from market.clearing import Clearing
from market.events import EVENT_COLUMNS, Event, EventKind
from market.fleet import FleetEconomics
from market.offers import OfferBook
from market.recording import (
    MODEL_COLUMNS,
    MULTIHOMING_COLUMNS,
    TABLES,
    Population,
    ProviderSnapshot,
    Recorder,
    StepOutcome,
    enterprise_rows,
    gpu_market_rows,
    market_hhi,
    model_row,
    provider_rows,
)

REGIONS = ("na", "eu")
ALLOCATION = np.array([[4.0, 1.0], [8.0, 2.0], [3.0, 9.0], [5.0, 15.0]])
PRICE = np.array([2.0, 1.0])
VOLUME = np.array([10.0, 20.0, 30.0, 40.0])


def outcome(owner: tuple[int, int] = (0, 1), reference_generation: int = 1, step: int = 3) -> StepOutcome:
    offers = OfferBook(
        holder=np.array([0, 1]), region=np.array([0, 1]), kind=np.array([0, 2]), owner=np.array(owner),
        quality=np.array([2.0, 1.0]), price=PRICE, unit_cost=np.array([1.5, 0.5]), capacity=np.array([25.0, np.inf]),
        variable_cost=np.zeros(2), privacy_risk=np.zeros(2), lock_in=np.zeros(2), unverified=np.zeros(2),
        reliability=np.ones(2), via=np.full(2, -1, dtype=np.int64))
    served = ALLOCATION.sum(axis=0)
    clearing = Clearing(
        shares=ALLOCATION / VOLUME[:, None], outside_share=np.array([0.4, 0.4, 0.5, 0.4]), allocation=ALLOCATION,
        offer_demand=np.array([25.0, 30.0]), served=served, revenue=served * PRICE, spend=ALLOCATION @ PRICE,
        inside_demand=np.array([6.0, 12.0, 15.0, 24.0]), unmet=np.array([1.0, 2.0, 3.0, 4.0]))
    gpus = np.array([[10.0, 0.0], [0.0, 6.0], [50.0, 0.0]])
    fleet = FleetEconomics(gpus=gpus, capacity=np.zeros((3, 2)), depreciation=np.zeros((3, 2)),
                           power_cost=np.zeros((3, 2)), opex=np.zeros((3, 2)), unit_cost=np.zeros((3, 2)),
                           variable_cost=np.zeros((3, 2)), load_mw=np.zeros(2))
    settlement = Settlement(revenue=np.array([40.0, 27.0, 0.0]), served=np.array([20.0, 27.0, 0.0]),
                            depreciation=np.zeros(3), cash_cost=np.zeros(3), interest=np.zeros(3),
                            profit=np.array([12.0, -3.0, 0.0]), served_units=np.array([20.0, 27.0, 0.0]))
    providers = ProviderSnapshot(
        holder=np.array([0, 1]), name=np.array(["cloud", "swarm"], dtype=object),
        kind=np.array(["hyperscaler", "decentralized"], dtype=object),
        owner_name=np.array(["cloud", "cloud" if owner[1] == 0 else "swarm"], dtype=object),
        active=np.array([True, True]), cash=np.array([1e6, 2e5]), quality=np.array([2.0, 1.0]),
        mean_price=np.array([2.2, 0.9]))
    return StepOutcome(
        step=step, frontier=2.5, open_weight=1.2, reference_quality=2.0, offers=offers, clearing=clearing,
        fleet=fleet, settlement=settlement, volume=VOLUME, consumer_surplus=np.array([1.0, 2.0, 3.0, 4.0]),
        self_host_cost_by_region=np.array([3.0, 5.0]),
        revenue_by_buyer_region=np.array([[24.0, 3.0], [16.0, 24.0]]), providers=providers,
        holder_kind_id=np.array([0, 2, -1]), secondary_price=np.array([np.nan, 9000.0]),
        reference_generation=reference_generation, generation_names=("A100", "H100"),
        held=np.array([[10, 0], [0, 6], [50, 0]]), reseller_ids=np.array([2]), provider_ids=np.array([0, 1]),
        scrapped=np.array([7, 0]), produced=np.array([67, 6]),
        event_counts={"entry": 2, "exit": 1, "acquisition": 3})


POPULATION = Population(segment=np.array([0, 0, 0, 0]), region=np.array([0, 0, 1, 1]),
                        weight=np.array([1.0, 2.0, 1.0, 1.0]), region_names=REGIONS, segment_names=("all",),
                        per_agent=False)


def test_model_row_by_hand() -> None:
    """price index 67 / 47; quality-adjusted 67 / ((20 * 2 + 27 * 1) / 2) = 2; HHI with owners 0 and 1:
    10^4 (40^2 + 27^2) / 67^2 = 10^4 * 2,329 / 4,489; shares of tokens: hyperscaler 20 / 47, specialized 0,
    decentralized 27 / 47; demanded 6 + 12 + 15 + 24 = 57, unmet 10; outside share (10 * 0.4 + 20 * 0.4 +
    30 * 0.5 + 40 * 0.4) / 100 = 0.43; capacity over finite offers 25 and utilization 20 / 25 = 0.8; secondary
    price of the reference generation (H100) 9,000; consumer surplus 10; self-host cost mean(3, 5) = 4; margins:
    hyperscaler 12 / 40 = 0.3, decentralized -3 / 27, specialized NaN (no revenue); total GPUs 10 + 6 + 50 = 66
    (fleets plus reseller inventory); HHI of region 0's buyers: revenue [24, 3]: 10^4 (576 + 9) / 729; region 1:
    [16, 24]: 40^2 + 60^2 = 5,200; cumulative counts from the events so far (no blocked merger: 0)."""
    row = model_row(outcome(), REGIONS)
    assert tuple(row) == (*MODEL_COLUMNS, "hhi_na", "hhi_eu")
    expected = {
        "step": 3, "frontier_quality": 2.5, "open_weight_quality": 1.2, "price_index": 67 / 47,
        "quality_adjusted_price_index": 2.0, "hhi": 1e4 * 2329 / 4489, "share_hyperscaler": 20 / 47,
        "share_specialized": 0.0, "share_decentralized": 27 / 47, "n_active_providers": 2, "tokens_demanded": 57.0,
        "tokens_served": 47.0, "total_spend": 67.0, "unmet_demand": 10.0, "outside_share": 0.43, "utilization": 0.8,
        "total_capacity": 25.0, "secondary_gpu_price": 9000.0, "consumer_surplus": 10.0, "self_host_cost": 4.0,
        "margin_hyperscaler": 0.3, "margin_decentralized": -3 / 27, "total_gpus": 66.0, "cumulative_entries": 2,
        "cumulative_exits": 1, "cumulative_acquisitions": 3, "cumulative_blocked_mergers": 0,
        "hhi_na": 1e4 * 585 / 729, "hhi_eu": 5200.0,
    }
    for key, value in expected.items():
        assert row[key] == pytest.approx(value, rel=1e-13), key
    assert math.isnan(row["margin_specialized"])


def test_model_row_hhi_counts_offers_by_ultimate_owner() -> None:
    """Both offers owned by holder 0: one firm, HHI 10,000 in the market and in each region."""
    row = model_row(outcome(owner=(0, 0)), REGIONS)
    assert (row["hhi"], row["hhi_na"], row["hhi_eu"]) == (pytest.approx(1e4), pytest.approx(1e4), pytest.approx(1e4))


def test_model_row_without_a_reference_generation() -> None:
    """No reference generation (-1): the secondary GPU price is NaN."""
    assert math.isnan(model_row(outcome(reference_generation=-1), REGIONS)["secondary_gpu_price"])


def test_provider_rows_by_hand() -> None:
    """One row per provider (holders 0 and 1; not the reseller): price = revenue / served = 40 / 20 and 27 / 27;
    unit cost the mean over its offers (one each): 1.5, 0.5; capacity 25 and inf; demand (unconstrained) 25, 30;
    fleet GPUs 10 and 6; profit, cash and names from the snapshot and the accounts."""
    rows = provider_rows(outcome())
    expected = {"step": [3, 3], "provider": ["cloud", "swarm"], "kind": ["hyperscaler", "decentralized"],
                "owner": ["cloud", "swarm"], "active": [True, True], "price": [2.0, 1.0], "unit_cost": [1.5, 0.5],
                "quality": [2.0, 1.0], "capacity": [25.0, np.inf], "demand": [25.0, 30.0],
                "tokens_served": [20.0, 27.0], "revenue": [40.0, 27.0], "profit": [12.0, -3.0], "cash": [1e6, 2e5],
                "fleet_gpus": [10.0, 6.0]}
    assert list(rows) == list(expected)
    for key, value in expected.items():
        np.testing.assert_array_equal(rows[key], value, err_msg=key)


def test_a_provider_that_served_nothing_reports_its_mean_posted_price() -> None:
    """With nothing served by holder 1 its price column is its mean posted price, 0.9, not 0 / 0."""
    o = outcome()
    o = dataclasses.replace(o, settlement=dataclasses.replace(o.settlement, served=np.array([20.0, 0.0, 0.0]),
                                                              revenue=np.array([40.0, 0.0, 0.0])))
    np.testing.assert_array_equal(provider_rows(o)["price"], [2.0, 0.9])


def test_enterprise_rows_aggregated_by_region_and_segment() -> None:
    """Region 0 (e0, e1): firms 1 + 2 = 3, volume 30, inside demand 18, served 15, unmet 3, spend 27, surplus 3,
    outside volume 10 * 0.4 + 20 * 0.4 = 12, served by hyperscalers 12 and by decentralized 3, effective price
    27 / 15 = 1.8. Region 1 (e2, e3): firms 2, volume 70, inside 39, served 32, unmet 7, spend 40, surplus 7,
    outside 15 + 16 = 31, hyperscaler 8, decentralized 24, effective price 40 / 32 = 1.25. Market HHI (one
    segment, so a market per region): region 0 revenue 12 * 2 = 24 and 3 * 1 = 3, HHI = (576 + 9) / 27^2 * 1e4
    = 8,024.69...; region 1 revenue 8 * 2 = 16 and 24: shares 40% and 60%, HHI 1,600 + 3,600 = 5,200."""
    rows = enterprise_rows(outcome(), POPULATION, market_hhi(outcome(), POPULATION)[0])
    expected = {"step": [3, 3], "region": ["na", "eu"], "segment": ["all", "all"], "n_agents": [2, 2],
                "firms": [3.0, 2.0], "volume": [30.0, 70.0], "inside_demand": [18.0, 39.0],
                "tokens_served": [15.0, 32.0], "unmet": [3.0, 7.0], "spend": [27.0, 40.0],
                "consumer_surplus": [3.0, 7.0], "outside_volume": [12.0, 31.0], "served_hyperscaler": [12.0, 8.0],
                "served_specialized": [0.0, 0.0], "served_decentralized": [3.0, 24.0],
                "effective_price": [1.8, 1.25], "market_hhi": [585.0 / 729.0 * 1e4, 5200.0]}
    assert set(rows) == set(expected)
    for key, value in expected.items():
        if rows[key].dtype == object:
            assert list(rows[key]) == value, key
        else:
            np.testing.assert_allclose(rows[key], value, rtol=1e-14, err_msg=key)


def test_market_hhi_summaries_in_the_model_row() -> None:
    """Per-market HHIs 8,024.69 (585 / 729 * 1e4, 15 Mtok served) and 5,200 (32 Mtok): the tokens-weighted mean
    is (8,024.69 * 15 + 5,200 * 32) / 47 = 6,101.49..., the maximum 8,024.69; the pooled HHI on revenue 40 and 27
    is (1,600 + 729) / 67^2 * 1e4 = 5,188.22... (below the mean: pooling hides each region's concentration).
    Without per-market figures the summaries are NaN."""
    markets = market_hhi(outcome(), POPULATION)
    np.testing.assert_allclose(markets[1], [15.0, 32.0], rtol=1e-15)
    row = model_row(outcome(), REGIONS, markets)
    high = 585.0 / 729.0 * 1e4
    assert row["hhi_markets_mean"] == pytest.approx((high * 15 + 5200.0 * 32) / 47, rel=1e-13)
    assert row["hhi_markets_max"] == pytest.approx(high, rel=1e-13)
    assert row["hhi"] == pytest.approx(2329.0 / 67**2 * 1e4, rel=1e-13)
    assert math.isnan(model_row(outcome(), REGIONS)["hhi_markets_mean"])


def test_enterprise_rows_per_agent() -> None:
    """Per agent: one row per enterprise with its region and segment by name; e2 was served 3 + 9 = 12 at a
    spend of 15, of which 3 by the hyperscaler; its outside volume is 30 * 0.5 = 15."""
    rows = enterprise_rows(outcome(), dataclasses.replace(POPULATION, per_agent=True))
    np.testing.assert_array_equal(rows["enterprise"], [0, 1, 2, 3])
    assert list(rows["region"]) == ["na", "na", "eu", "eu"]
    assert list(rows["segment"]) == ["all"] * 4
    np.testing.assert_allclose(rows["tokens_served"], [5.0, 10.0, 12.0, 20.0], rtol=1e-15)
    np.testing.assert_allclose(rows["spend"], [9.0, 18.0, 15.0, 25.0], rtol=1e-15)
    np.testing.assert_allclose(rows["served_hyperscaler"], [4.0, 8.0, 3.0, 5.0], rtol=1e-15)
    np.testing.assert_allclose(rows["outside_volume"], [4.0, 8.0, 15.0, 16.0], rtol=1e-15)
    np.testing.assert_allclose(rows["firms"], [1.0, 2.0, 1.0, 1.0], rtol=1e-15)
    assert np.isnan(rows["market_hhi"]).all()  # no per-market HHIs given


def test_gpu_market_rows() -> None:
    """Per generation: GPUs in providers' fleets (holders 0, 1): A100 10, H100 6; in the reseller's inventory:
    50 and 0; scrapped, produced and the lowest resale quote as given."""
    rows = gpu_market_rows(outcome())
    assert list(rows["generation"]) == ["A100", "H100"]
    np.testing.assert_array_equal(rows["step"], [3, 3])
    np.testing.assert_array_equal(rows["in_fleets"], [10, 6])
    np.testing.assert_array_equal(rows["in_inventory"], [50, 0])
    np.testing.assert_array_equal(rows["scrapped"], [7, 0])
    np.testing.assert_array_equal(rows["produced"], [67, 6])
    np.testing.assert_array_equal(rows["secondary_price"], [np.nan, 9000.0])


def test_recorder_frames_hold_every_table() -> None:
    """Two steps recorded, with one event row in the second: the frames are the TABLES; the model table has the
    recorder's columns and 2 rows, providers 2 x 2 rows, enterprises 2 x 2 groups, the GPU market 2 x 2
    generations; the events table has EVENT_COLUMNS and the one row."""
    recorder = Recorder(POPULATION)
    recorder.collect(outcome(step=0), [])
    row = Event(EventKind.EXIT, holder=1, amount_usd=-5.0, detail="bankrupt").row(1, ["cloud", "swarm"], ["A100"])
    recorder.collect(outcome(step=1), [row])
    frames = recorder.frames()
    assert tuple(frames) == TABLES
    assert list(frames["model"].columns) == list(recorder.columns) == [
        *MODEL_COLUMNS, "hhi_na", "hhi_eu", *recorder.price_index.columns, *MULTIHOMING_COLUMNS]
    assert list(frames["model"]["step"]) == [0, 1]
    assert recorder.last_model_row["step"] == 1
    assert (len(frames["providers"]), len(frames["enterprises"]), len(frames["gpu_market"])) == (4, 4, 4)
    assert list(frames["providers"]["step"]) == [0, 0, 1, 1]
    assert tuple(frames["events"].columns) == EVENT_COLUMNS
    assert frames["events"].to_dict("records") == [row]


def test_recorder_without_events_has_an_empty_events_table_with_its_columns() -> None:
    """No event recorded: the events table has no rows but all EVENT_COLUMNS, with integer steps and units."""
    recorder = Recorder(POPULATION)
    recorder.collect(outcome(), [])
    events = recorder.frames()["events"]
    assert len(events) == 0
    assert tuple(events.columns) == EVENT_COLUMNS
    assert (str(events["step"].dtype), str(events["units"].dtype), str(events["amount_usd"].dtype)) == (
        "int64", "int64", "float64")
