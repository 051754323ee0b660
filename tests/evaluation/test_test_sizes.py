"""Seeded, fast versions of benchmarks/test_sizes.py: the significance tests keep their size on
simulated no-skill forecasts and keep their power. The old tests (Bartlett PT at h > 1; DM over
h-1 lags with HLN) fail these: they rejected 9-10% (PT step 5, overall) and 11-17% (DM on
persistent volatility-forecast losses) at 5%."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

REPS = 400  # replications: the standard error of a 5% rate is 1.1 points
SIZE_MAX = 0.08  # a 5% test may reject at most this often here (the old tests: 0.09-0.17)


def _bench():
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "test_sizes.py"
    spec = importlib.util.spec_from_file_location("test_sizes_bench", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench():
    return _bench()


def test_pesaran_timmermann_keeps_its_size_at_every_step(bench):
    rows = bench.pt_table(np.random.default_rng(1), REPS)
    sizes = {r["step"]: r["size"] for r in rows}
    assert all(s <= SIZE_MAX for s in sizes.values()), sizes
    assert np.mean(list(sizes.values())) >= 0.03, sizes  # not made useless by over-correcting


def test_diebold_mariano_keeps_size_on_volatility_forecasts_and_power(bench):
    rows = bench.dm_vol_table(np.random.default_rng(2), REPS)
    for r in rows:
        if r["what"] == "size":
            assert r["better"] <= SIZE_MAX and r["worse"] <= SIZE_MAX, r
        else:  # log-scale error sd 0.30 against 0.15, no persistence: found nearly always
            assert r["better"] >= 0.85 and r["worse"] == 0.0, r


def test_diebold_mariano_on_mean_forecasts_keeps_size_and_power(bench):
    rows = bench.dm_mean_table(np.random.default_rng(3), REPS)
    for r in rows:
        assert max(r["size_better"], r["size_worse"]) <= SIZE_MAX, r  # (the mirror design is not met: BENCHMARKS.md)
    assert rows[0]["power_vs_rw"] >= 0.2 and rows[-1]["power_vs_rw"] >= 0.15, rows
