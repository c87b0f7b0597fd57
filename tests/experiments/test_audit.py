"""The acceptance audit's computations (experiments/audit.py) on small hand-made result frames."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from experiments import audit
from tests.conftest import VALIDATION_DIR


def test_max_unmet_share_skips_the_burn_in() -> None:
    """Shares 0.5, 0.1, 0.03, 0.01 at steps 0-3: from step 1 the largest is 0.1 at step 1, from step 2 0.03."""
    model = pd.DataFrame({"step": [0, 1, 2, 3], "tokens_demanded": [100.0, 100.0, 200.0, 100.0],
                          "unmet_demand": [50.0, 10.0, 6.0, 1.0]})
    assert audit.max_unmet_share(model, 1) == (pytest.approx(0.1), 1)
    assert audit.max_unmet_share(model, 2) == (pytest.approx(0.03), 2)
    share, step = audit.max_unmet_share(model, 9)
    assert math.isnan(share) and step == -1


def providers_frame(prices: dict[str, list[float]], served: dict[str, list[float]]) -> pd.DataFrame:
    rows = []
    for name, path in prices.items():
        for step, (p, q) in enumerate(zip(path, served[name], strict=True)):
            rows.append({"step": step, "provider": name, "kind": "specialized", "active": True, "price": p,
                         "tokens_served": q, "revenue": p * q, "capacity": 2.0 * q})
    return pd.DataFrame(rows)


def test_a_price_rising_while_the_market_falls_is_flagged() -> None:
    """Window 2. 'climber' goes 1.0 -> 1.2 -> 1.5 while 'big' (100x its volume) goes 1.0 -> 0.8 -> 0.5. Market
    price at step 0: (1 + 100) / 101 = 1.0; at step 2: (1.5 + 50) / 101 = 0.5099: -49%. climber +50% > 10%:
    flagged; big is not (its price fell)."""
    prices = {"climber": [1.0, 1.2, 1.5], "big": [1.0, 0.8, 0.5]}
    served = {"climber": [1.0, 1.0, 1.0], "big": [100.0, 100.0, 100.0]}
    frame = providers_frame(prices, served)
    np.testing.assert_allclose(audit.market_price(frame).to_numpy(), [1.0, 81.2 / 101, 51.5 / 101])
    flags = audit.rising_price_flags(frame, window=2, rise=0.10)
    assert [f["provider"] for f in flags] == ["climber"]
    f = flags[0]
    assert (f["from_step"], f["to_step"]) == (0, 2)
    assert f["price_change"] == pytest.approx(0.5)
    assert f["market_change"] == pytest.approx(51.5 / 101 - 1.0)
    assert f["path"] == {0: 1.0, 2: 1.5}
    assert audit.rising_price_flags(frame, window=2, rise=0.6) == []


def test_no_flag_when_the_market_rises_too() -> None:
    prices = {"a": [1.0, 1.2, 1.5], "b": [1.0, 1.1, 1.3]}
    served = {"a": [1.0, 1.0, 1.0], "b": [1.0, 1.0, 1.0]}
    assert audit.rising_price_flags(providers_frame(prices, served), window=2) == []


def events_frame(rows: list[tuple[int, str, str, str, int, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["step", "event", "party", "counterparty", "units", "amount_usd"])


def test_reseller_book_by_hand() -> None:
    """r1 starts with $100: buys 10 GPUs for $150 at step 0 (retired) and 5 for $20 at step 1 (sale), resells
    4 for $40 at step 2 and 2 for $30 at step 3. Cash path 100 - 150 = -50, -70, -30, 0: lowest -70, within an
    $80 credit line (not a $60 one). Resold 6 in the 4 months (pace 1.5 a month); 9 in inventory = 6 months."""
    events = events_frame([(0, "gpu_retired", "cloud", "r1", 10, 150.0), (1, "gpu_sale", "spec", "r1", 5, 20.0),
                           (2, "gpu_sale", "r1", "spec", 4, 40.0), (3, "gpu_sale", "r1", "swarm", 2, 30.0),
                           (3, "gpu_purchase", "", "spec", 7, 70.0)])
    market = pd.DataFrame({"step": [3, 3], "in_inventory": [6, 3]})
    book = audit.reseller_books(events, market, {"r1": 100.0}, {"r1": 80.0})
    assert (book["units_bought"], book["usd_bought"], book["units_resold"], book["usd_resold"]) == (15, 170.0, 6, 70.0)
    assert book["min_cash"] == {"r1": -70.0}
    assert book["inventory_months"] == pytest.approx(6.0)
    assert book["within_credit"] and book["finite_credit"]
    tight = audit.reseller_books(events, market, {"r1": 100.0}, {"r1": 60.0})
    assert not tight["within_credit"]


def test_corporate_counts_and_utilization_by_kind() -> None:
    """Two acquisitions, one of an entrant; utilization pooled: hyperscaler (3 + 5) / (10 + 10) = 0.4."""
    events = events_frame([(1, "entry", "new_1", "", 0, 0.0), (2, "acquisition", "cloud", "new_1", 0, 5.0),
                           (3, "acquisition", "cloud", "swarm", 0, 1.0), (4, "exit", "spec", "", 0, 0.0)])
    providers = pd.DataFrame({
        "step": [0, 0, 0, 1, 1, 1], "provider": ["cloud", "new_1", "swarm"] * 2,
        "kind": ["hyperscaler", "specialized", "decentralized"] * 2,
        "tokens_served": [3.0, 4.0, 1.0, 5.0, 4.0, 0.0], "capacity": [10.0, 4.0, 8.0, 10.0, 8.0, 8.0]})
    counts = audit.corporate_counts(events, providers)
    assert counts == {"acquisitions": 2, "acquired_kinds": {"decentralized": 1, "specialized": 1},
                      "acquired_entrants": 1, "exits": 1, "entries": 1}
    util = audit.utilization_by_kind(providers, burn_in=0)
    assert util["hyperscaler"] == {"mean": pytest.approx(0.4), "min": 0.3, "max": 0.5, "last": 0.5}
    assert util["specialized"]["mean"] == pytest.approx(8.0 / 12.0)
    assert audit.utilization_by_kind(providers, burn_in=1)["decentralized"]["mean"] == 0.0


def test_cli_reports_and_writes_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "audit.json"
    config = str(VALIDATION_DIR / "logit_duopoly.toml")
    assert audit.main(["--config", config, "--seeds", "1", "--burn-in", "2", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "max unmet share after burn-in: 0.00%" in text and "utilization by kind" in text
    facts = json.loads(out.read_text())
    assert set(facts) == {str(s) for s in audit.derive_seeds(2025, 1)}
    assert audit.main(["--config", str(tmp_path / "missing.toml")]) == 2
