"""Acceptance audit of a scenario (issue 8): the facts a reviewer checks, per seed, from a run's public frames.

``python -m experiments.audit [--config F] [--seeds N] [--burn-in M] [--json FILE]`` runs the scenario (the
baseline by default) on the audit seeds ``derive_seeds(2025, N)`` and prints, per seed:

- the largest unmet share of inside demand at any step from ``--burn-in`` on (target below 2%);
- providers whose price rose by more than ``--rise`` over a ``--window``-month window while the volume-weighted
  market price fell over the same window (price paths printed);
- resellers' GPUs bought and resold, months of inventory at the end, and their lowest cash against their credit;
- acquisitions (with the targets' kinds), exits and entries;
- capacity utilization (tokens served / capacity) by provider kind after burn-in.

It is a report: the exit code is 0 whatever it finds (2 for a bad config). The computations are pure
functions of the result frames, so the audit keeps working as the engine changes.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from experiments.run import RunResult, run_scenario
from experiments.sweep_config import derive_seeds
from market.config import ScenarioConfig
from market.config.files import ConfigError, load_scenario

AUDIT_ROOT_SEED = 2025
"""Root seed of the audit seeds (issue 8 uses ``derive_seeds(2025, 10)[:5]``)."""
RESELLER_BUYS = ("gpu_sale", "gpu_retired", "gpu_liquidation")
"""Events in which a reseller (the counterparty) buys GPUs."""


def max_unmet_share(model: pd.DataFrame, burn_in: int) -> tuple[float, int]:
    """Largest ``unmet_demand / tokens_demanded`` at a step ``>= burn_in``, and that step (NaN, -1 if none)."""
    rows = model[(model["step"] >= burn_in) & (model["tokens_demanded"] > 0)]
    if rows.empty:
        return float("nan"), -1
    share = rows["unmet_demand"] / rows["tokens_demanded"]
    i = int(np.argmax(share.to_numpy()))
    return float(share.iloc[i]), int(rows["step"].iloc[i])


def market_price(providers: pd.DataFrame) -> pd.Series:
    """Volume-weighted market price per step: ``sum revenue / sum tokens served`` over providers, $/Mtok (rows of
    kind ``router`` left out: their tokens are in the providers' rows already)."""
    rows = providers[providers["kind"] != "router"] if "kind" in providers else providers
    by_step = rows.groupby("step")[["revenue", "tokens_served"]].sum()
    return (by_step["revenue"] / by_step["tokens_served"].where(by_step["tokens_served"] > 0)).rename("market")


def rising_price_flags(providers: pd.DataFrame, window: int = 24, rise: float = 0.10) -> list[dict[str, Any]]:
    """Providers whose price rose by more than ``rise`` over ``window`` months while the market price fell.

    For every provider and step ``t`` where it sold at ``t - window`` and at ``t``: flagged when
    ``p_t / p_(t-window) - 1 > rise`` and ``M_t / M_(t-window) < 1`` (``M``: :func:`market_price`). Each flag
    reports the window with the largest rise and the provider's price every six months across it.
    """
    market = market_price(providers)
    selling = providers[providers["active"] & (providers["tokens_served"] > 0)]
    flags: list[dict[str, Any]] = []
    for name, rows in selling.groupby("provider", sort=True):
        price = rows.set_index("step")["price"]
        start = price.index.to_numpy() - window
        ok = np.isin(start, price.index.to_numpy()) & np.isin(start, market.index.to_numpy())
        if not ok.any():
            continue
        end_steps = price.index.to_numpy()[ok]
        begin = start[ok]
        change = price.loc[end_steps].to_numpy() / price.loc[begin].to_numpy() - 1.0
        market_change = market.loc[end_steps].to_numpy() / market.loc[begin].to_numpy() - 1.0
        hit = (change > rise) & (market_change < 0)
        if not hit.any():
            continue
        k = int(np.argmax(np.where(hit, change, -np.inf)))
        a, b = int(begin[k]), int(end_steps[k])
        path = price.loc[[s for s in range(a, b + 1, 6) if s in price.index] + ([b] if (b - a) % 6 else [])]
        flags.append({"provider": str(name), "from_step": a, "to_step": b, "price_change": float(change[k]),
                      "market_change": float(market_change[k]), "windows_flagged": int(hit.sum()),
                      "path": dict(zip(path.index.astype(int).tolist(), path.astype(float).tolist(), strict=True))})
    return flags


def reseller_books(events: pd.DataFrame, gpu_market: pd.DataFrame, cash_at_start: dict[str, float],
                   credit_limit: dict[str, float]) -> dict[str, Any]:
    """Resellers' trade book from the events: GPUs and dollars bought and resold, end inventory, months of
    inventory at the last year's resale pace, and each reseller's lowest cash (start cash minus purchases plus
    sales, summed step by step) against its credit limit (``within_credit``: lowest cash >= -credit)."""
    names = list(cash_at_start)
    buys = events[events["event"].isin(RESELLER_BUYS) & events["counterparty"].isin(names)]
    sells = events[(events["event"] == "gpu_sale") & events["party"].isin(names)]
    last = int(gpu_market["step"].max()) if not gpu_market.empty else 0
    inventory = float(gpu_market.loc[gpu_market["step"] == last, "in_inventory"].sum()) if not gpu_market.empty else 0.0
    recent = sells[sells["step"] > last - 12]
    pace = float(recent["units"].sum()) / min(12, last + 1)
    steps = np.arange(last + 1)
    lowest: dict[str, float] = {}
    for name in names:
        flow = (sells[sells["party"] == name].groupby("step")["amount_usd"].sum()
                .sub(buys[buys["counterparty"] == name].groupby("step")["amount_usd"].sum(), fill_value=0.0))
        path = cash_at_start[name] + flow.reindex(steps, fill_value=0.0).cumsum()
        lowest[name] = float(min(path.min(), cash_at_start[name]))
    return {
        "units_bought": int(buys["units"].sum()), "usd_bought": float(buys["amount_usd"].sum()),
        "units_resold": int(sells["units"].sum()), "usd_resold": float(sells["amount_usd"].sum()),
        "inventory_end": inventory,
        "inventory_months": inventory / pace if pace > 0 else (0.0 if inventory == 0 else math.inf),
        "min_cash": lowest, "credit_limit": {n: credit_limit[n] for n in names},
        "within_credit": all(lowest[n] >= -credit_limit[n] for n in names),
        "finite_credit": all(math.isfinite(credit_limit[n]) for n in names),
    }


def corporate_counts(events: pd.DataFrame, providers: pd.DataFrame) -> dict[str, Any]:
    """Acquisitions (with the targets' kinds), exits and entries in a run."""
    kind = providers.drop_duplicates("provider").set_index("provider")["kind"]
    deals = events[events["event"] == "acquisition"]
    targets = Counter(str(kind.get(t, "unknown")) for t in deals["counterparty"])
    entrants = set(events.loc[events["event"] == "entry", "party"])
    return {"acquisitions": len(deals), "acquired_kinds": dict(sorted(targets.items())),
            "acquired_entrants": int(deals["counterparty"].isin(entrants).sum()),
            "exits": int((events["event"] == "exit").sum()), "entries": int((events["event"] == "entry").sum())}


def utilization_by_kind(providers: pd.DataFrame, burn_in: int) -> dict[str, dict[str, float]]:
    """Per provider kind: tokens served / finite capacity, pooled over steps ``>= burn_in`` (``mean``), its
    lowest and highest monthly value, and the last step's."""
    rows = providers[(providers["step"] >= burn_in) & np.isfinite(providers["capacity"])]
    by = rows.groupby(["kind", "step"])[["tokens_served", "capacity"]].sum()
    monthly = (by["tokens_served"] / by["capacity"].where(by["capacity"] > 0)).unstack("kind")
    pooled = rows.groupby("kind")[["tokens_served", "capacity"]].sum()
    out: dict[str, dict[str, float]] = {}
    for k in monthly.columns:
        cap = float(pooled.loc[k, "capacity"])
        out[str(k)] = {"mean": float(pooled.loc[k, "tokens_served"]) / cap if cap > 0 else math.nan,
                       "min": float(monthly[k].min()), "max": float(monthly[k].max()),
                       "last": float(monthly[k].iloc[-1])}
    return out


def reseller_accounts(config: ScenarioConfig) -> tuple[dict[str, float], dict[str, float]]:
    """Each reseller's starting cash and credit limit by name (``name`` or ``name_1 ... name_count``; no
    credit-limit field means unlimited credit)."""
    cash: dict[str, float] = {}
    credit: dict[str, float] = {}
    for r in config.resellers:
        names = [r.name] if r.count == 1 else [f"{r.name}_{k}" for k in range(1, r.count + 1)]
        for n in names:
            cash[n] = float(r.cash_usd)
            credit[n] = float(getattr(r, "credit_limit_usd", math.inf))
    return cash, credit


def audit_run(result: RunResult, config: ScenarioConfig, *, burn_in: int, window: int = 24,
              rise: float = 0.10) -> dict[str, Any]:
    """Every audit fact of one run."""
    share, step = max_unmet_share(result.model, burn_in)
    cash, credit = reseller_accounts(config)
    return {"max_unmet_share": share, "max_unmet_step": step,
            "rising_prices": rising_price_flags(result.providers, window, rise),
            "resellers": reseller_books(result.events, result.gpu_market, cash, credit),
            "corporate": corporate_counts(result.events, result.providers),
            "utilization": utilization_by_kind(result.providers, burn_in)}


def render(audits: dict[int, dict[str, Any]], *, burn_in: int, window: int, rise: float) -> str:
    """The audit as markdown, one section per seed."""
    lines = [f"# Acceptance audit (burn-in {burn_in} months)", ""]
    for seed, a in audits.items():
        r, c = a["resellers"], a["corporate"]
        verdict = "ok" if a["max_unmet_share"] < 0.02 else "ABOVE 2%"
        lines += [f"## seed {seed}", "",
                  f"- max unmet share after burn-in: {a['max_unmet_share']:.2%} at step {a['max_unmet_step']} "
                  f"({verdict})",
                  f"- price up > {rise:.0%} over {window} months while the market fell: "
                  + (", ".join(f["provider"] for f in a["rising_prices"]) or "none")]
        for f in a["rising_prices"]:
            path = ", ".join(f"{s}: {p:.4g}" for s, p in f["path"].items())
            lines.append(f"  - {f['provider']}: steps {f['from_step']}-{f['to_step']} price {f['price_change']:+.0%}, "
                         f"market {f['market_change']:+.0%} ({f['windows_flagged']} windows); path {path}")
        mins = ", ".join(f"{n} {v:.3g} (credit {r['credit_limit'][n]:.3g})" for n, v in r["min_cash"].items())
        lines += [f"- resellers: bought {r['units_bought']:,} GPUs (${r['usd_bought']:.3g}), resold "
                  f"{r['units_resold']:,} (${r['usd_resold']:.3g}); inventory {r['inventory_end']:,.0f} GPUs = "
                  f"{r['inventory_months']:.1f} months; min cash {mins}; within credit: {r['within_credit']}"
                  + ("" if r["finite_credit"] else " (credit unlimited)"),
                  f"- acquisitions {c['acquisitions']} {c['acquired_kinds']} ({c['acquired_entrants']} of them "
                  f"entrants), exits {c['exits']}, "
                  f"entries {c['entries']}",
                  "- utilization by kind (pooled after burn-in; min-max; last): "
                  + "; ".join(f"{k} {u['mean']:.2f} ({u['min']:.2f}-{u['max']:.2f}; {u['last']:.2f})"
                              for k, u in a["utilization"].items()), ""]
    return "\n".join(lines)


def _plain(value: Any) -> Any:
    """``value`` with non-finite floats as the strings ``"inf"``, ``"-inf"``, ``"nan"`` (strict JSON)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m experiments.audit [--config F] [--seeds N] [--burn-in M] [--json FILE]``."""
    parser = argparse.ArgumentParser(description="Acceptance audit of a scenario on the audit seeds.")
    parser.add_argument("--config", default="baseline", help="Scenario file or shipped name (default: baseline).")
    parser.add_argument("--seeds", type=int, default=5, help="Audit seeds: derive_seeds(2025, N) (default 5).")
    parser.add_argument("--burn-in", type=int, default=12, help="Months excluded from the unmet-demand check.")
    parser.add_argument("--window", type=int, default=24, help="Months of the rising-price window.")
    parser.add_argument("--rise", type=float, default=0.10, help="Price rise that flags a provider (0.10 = 10%%).")
    parser.add_argument("--json", type=Path, default=None, help="Also write the facts as JSON to this file.")
    args = parser.parse_args(argv)
    try:
        config = load_scenario(args.config)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.seeds < 1 or args.burn_in < 0 or args.window < 1:
        print("error: --seeds and --window must be at least 1, --burn-in at least 0", file=sys.stderr)
        return 2
    audits = {seed: audit_run(run_scenario(config, seed), config, burn_in=args.burn_in, window=args.window,
                              rise=args.rise)
              for seed in derive_seeds(AUDIT_ROOT_SEED, args.seeds)}
    print(render(audits, burn_in=args.burn_in, window=args.window, rise=args.rise))
    if args.json is not None:
        facts = _plain({str(s): a for s, a in audits.items()})
        args.json.write_text(json.dumps(facts, indent=2, allow_nan=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
