"""Regenerate the golden result: the baseline at seeds 1 and 2 for 24 steps (model, providers, events tables).

Run from the repository root when a change of results is intended, and say why in the commit::

    make golden        # or: .venv/bin/python tests/golden/regenerate.py

``tests/test_golden.py`` compares every run against these files (numbers to 1e-9 relative, the rest exactly).
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SEEDS = (1, 2)
STEPS = 24
TABLES = ("model", "providers", "events")


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from experiments.run import run_scenario
    from market.config.files import load_scenario

    config = load_scenario(ROOT / "experiments" / "configs" / "baseline.toml", [f"simulation.steps={STEPS}"])
    for seed in SEEDS:
        result = run_scenario(config, seed=seed)
        for table in TABLES:
            path = HERE / f"baseline_seed{seed}_{table}.parquet"
            getattr(result, table).to_parquet(path, index=False)
            print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
