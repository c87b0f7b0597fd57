"""The fused clearing gives the same bits at any number of numba threads (market/kernel_passes.py sums rows in
fixed blocks, added in block order).

In-process: every kernel entry point at 1 and 2 threads on a market with rationing and task classes. As real
runs: six months of the baseline through the CLI with ``NUMBA_NUM_THREADS`` 1 and 2 (a few seconds), Parquet
files compared byte for byte.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numba
import numpy as np
import pytest

from market import clearing_kernel, kernel_passes

REPO = Path(__file__).resolve().parents[2]


def everything(n_threads: int) -> list[np.ndarray]:
    """Every output of the fused entry points on one random market, computed with ``n_threads`` threads."""
    rng = np.random.default_rng(11)
    n_ent, n_off = 5_000, 37
    utility, outside_utility = rng.normal(0.0, 1.0, (n_ent, n_off)), rng.normal(0.0, 1.0, n_ent)
    volume, price = rng.uniform(1.0, 10.0, n_ent), rng.uniform(1.0, 5.0, n_off)
    capacity = np.where(rng.random(n_off) < 0.5, 0.3 * volume.sum() / n_off, np.inf)  # half the offers bind
    classes = SimpleNamespace(group=rng.integers(0, 2, n_ent), mix=np.array([[0.3, 0.7], [0.5, 0.5]]),
                              eligible=rng.random((2, 2, n_off)) < 0.7)
    before = kernel_passes.THREADS
    kernel_passes.THREADS = n_threads
    try:
        shares, outside = clearing_kernel.logit_shares(utility, outside_utility, 0.5)
        out = [shares, outside]
        for kind in (None, classes):
            c = clearing_kernel.clear_with_volume_response(shares, outside, volume, np.full(n_ent, 3.0),
                                                           np.full(n_ent, 0.4), capacity, price, 3, classes=kind)
            slopes, overflow = clearing_kernel.demand_terms(shares, np.asarray(c.volume), np.ones(n_ent), 0.5, price,
                                                            "log", capacity, classes=kind, outside_share=outside)
            out += [c.allocation, c.served, c.spend, c.unmet, slopes.demand, slopes.own_slope, overflow]
        return out
    finally:
        kernel_passes.THREADS = before


def test_kernels_give_the_same_bits_at_one_and_two_threads() -> None:
    if numba.config.NUMBA_NUM_THREADS < 2:  # type: ignore[attr-defined]
        pytest.skip("numba has a single thread on this machine")
    one, two = everything(1), everything(2)
    assert np.any(one[3] != 0.0)  # the market did ration something
    for a, b in zip(one, two, strict=True):
        assert a.tobytes() == b.tobytes()


def test_a_run_writes_the_same_bytes_at_one_and_two_numba_threads(tmp_path: Path) -> None:
    tables = {}
    for threads in (1, 2):
        out = tmp_path / f"threads{threads}"
        env = {**os.environ, "NUMBA_NUM_THREADS": str(threads)}
        subprocess.run([sys.executable, "-m", "experiments.cli", "run", "baseline", "--seed", "5", "--steps", "6",
                        "--out", str(out)], cwd=REPO, env=env, check=True, capture_output=True, timeout=600)
        tables[threads] = {p.name: p.read_bytes() for p in sorted(out.glob("*.parquet"))}
    assert tables[1] and tables[1].keys() == tables[2].keys()
    for name, data in tables[1].items():
        assert data == tables[2][name], name
