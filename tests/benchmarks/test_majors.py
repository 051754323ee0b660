"""The six-majors benchmark's statistics (Holm, the panel DM, the pooled calibration) on synthetic
losses, and one tiny real run end to end (ECB EURUSD, one fold, one member)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecaster.benchmarks import majors as mj
from forecaster.configs import AnchoredConfig
from forecaster.errors import ForecasterError
from forecaster.evaluation.stats import holm, panel_diebold_mariano


def test_holm_steps_down_and_keeps_nan():
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, np.nan]), [0.03, 0.06, 0.06, np.nan])
    assert holm([0.5, 0.9])[1] == 1.0 and holm([0.2])[0] == 0.2


def test_panel_dm_aligns_on_common_dates_and_finds_a_shared_loss():
    rng = np.random.default_rng(0)
    dates = pd.bdate_range("2020-01-01", periods=600)
    base = {p: pd.Series(rng.gamma(2.0, 1.0, 600), index=dates) for p in ("A", "B", "C")}
    worse = {p: s + 0.15 + 0.5 * rng.standard_normal(600) for p, s in base.items()}
    worse["C"] = worse["C"].iloc[100:]  # C starts later: only the dates common to all are kept
    out = panel_diebold_mariano(worse, base, h=5)
    assert out["n"] == 500 and out["series"] == ["A", "B", "C"]
    assert out["dm_p_worse"] < 0.01 and out["mean_diff"] == pytest.approx(0.15, abs=0.05)
    same = panel_diebold_mariano({p: s + 0.3 * rng.standard_normal(600) for p, s in base.items()}, base, h=5)
    assert same["dm_p_worse"] > 0.05 and same["dm_p"] > 0.05  # no difference: no verdict either way


def _part(pair, n, rng, miss_rate):
    """A run_pair result with made-up losses and misses: tercile t misses at miss_rate[t]."""
    tercile = np.repeat([0, 1, 2], n // 3)
    miss = rng.random((len(tercile), 5)) < np.asarray(miss_rate)[tercile][:, None]
    crps = {m: rng.gamma(2.0, 1.0, len(tercile)) for m in mj.MajorsConfig().models()}
    return {"pair": pair, "index": pd.bdate_range("2021-01-01", periods=len(tercile)), "tercile": tercile,
            "origins": len(tercile), "weights": {"mamba": [0.0]}, "crps": crps, "miss": {m: miss for m in mj.MajorsConfig().models()}, "horizon": 5}


def test_summary_pools_terciles_over_pairs_and_measures_the_spread():
    rng = np.random.default_rng(1)
    parts = [_part(p, 900, rng, (0.3, 0.2, 0.1)) for p in ("EURUSD", "USDJPY")]
    s = mj.summarize(parts)
    cal = s["calibration"]["mamba"]
    assert cal["terciles"]["low"]["n"] == 600  # 300 origins of each pair
    assert cal["terciles"]["low"]["coverage"] == pytest.approx(0.7, abs=0.03)
    assert cal["spread"] == pytest.approx(0.2, abs=0.04)  # high (0.9) minus low (0.7)
    assert cal["terciles"]["low"]["p_cc_holm"] < 0.01  # 70% coverage of an 80% interval is rejected
    assert set(s["pairs"]) == {"EURUSD", "USDJPY"} and s["panel"]["mamba"]["n_dates"] == 900
    assert set(s["panel"]) == {"mamba", "mamba_raw", "gjr_t"}  # the partner alone is tested too, not EWMA or the reference
    assert "Panel DM" in mj.format_tables(s)


def test_two_runs_compare_on_their_common_origins_and_a_planted_loss_is_found(tmp_path):
    rng = np.random.default_rng(2)
    base = [_part(p, 600, rng, (0.2, 0.2, 0.2)) for p in ("EURUSD", "USDJPY")]
    option = []
    for p in base:  # the same origins 100 bars later on, mamba 2% worse on each: 500 origins in common
        index = p["index"] + pd.offsets.BDay(100)
        mamba = pd.Series(p["crps"]["mamba"], index=p["index"]).reindex(index).to_numpy()  # NaN on dates the base lacks
        option.append({**p, "index": index, "crps": {**p["crps"], "mamba": mamba * 1.02 + 0.002 * rng.standard_normal(600)}})
    mj.save_crps(base, tmp_path / "a.npz")
    mj.save_crps(option, tmp_path / "b.npz")
    (a, h), (b, _) = mj.load_crps(tmp_path / "a.npz"), mj.load_crps(tmp_path / "b.npz")
    assert h == 5 and set(a) == {"EURUSD", "USDJPY"} and set(a["EURUSD"]) == set(mj.MajorsConfig().models())
    np.testing.assert_array_equal(a["USDJPY"]["mamba"].to_numpy(), base[1]["crps"]["mamba"])  # the round trip
    out = mj.compare_runs(b, a, h, "mamba")
    assert out["panel"]["n_dates"] == 500 and all(r["n"] == 500 for r in out["pairs"].values())
    assert out["panel"]["p_worse"] < 0.01 and out["panel"]["mean_diff_pct"] == pytest.approx(2.0, abs=0.5)
    assert all(r["p_worse_holm"] < 0.05 for r in out["pairs"].values())
    same = mj.compare_runs(a, a, h, "mamba", "mamba_raw")  # two models of one run: no planted difference
    assert same["panel"]["p_worse"] > 0.05 and same["panel"]["p_better"] > 0.05
    with pytest.raises(ForecasterError, match="share no pair"):
        mj.compare_runs(a, b, h, "no_such_model")


def test_a_tiny_real_run_backtests_the_default_design():
    cfg = mj.MajorsConfig(pairs=("EURUSD",), test_years=0.5, folds=1, start="2019-01-01",
                          anchored=AnchoredConfig(members=1, epochs=1))
    parts, summary = mj.run_majors(cfg)
    (part,) = parts
    assert part["origins"] > 100 and list(part["weights"]) == ["mamba"] and len(part["weights"]["mamba"]) == 1
    assert set(part["crps"]) == set(mj.MajorsConfig().models()) and np.all(part["tercile"] >= -1)
    assert summary["pairs"]["EURUSD"]["crps_bp"]["garch_t"] > 0


def test_the_cross_pair_model_runs_beside_on_the_common_dates():
    cfg = mj.MajorsConfig(pairs=("EURUSD", "USDJPY"), test_years=0.5, folds=1, start="2019-01-01",
                          anchored=AnchoredConfig(members=1, epochs=1), cross=True)
    part = mj.run_pair("USDJPY", cfg)
    assert set(part["crps"]) == set(cfg.models()) >= {"mamba_global", "mamba_global_raw"}
    summary = mj.summarize([part])
    assert {"mamba_global", "mamba_global_raw"} <= set(summary["panel"]) and "mamba_global vs GARCH-t" in mj.format_tables(summary)
