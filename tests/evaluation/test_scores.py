"""Proper scores and calibration tests: hand-computed VaR likelihood ratios, score identities, and
probabilistic_stats separating a calibrated volatility-aware forecaster from a constant-width one."""

import json
import math

import numpy as np
import pytest
from scipy import stats

from forecaster.evaluation.scores import (
    christoffersen, coverage_by_regime, interval_score, kupiec, pinball, pit_histogram, probabilistic_stats,
    trailing_volatility, volatility_from_actual,
)
from forecaster.probabilistic.distributions import Predictive
from forecaster.errors import ForecasterError

# T = 20 days, 4 exceedances of a 95% VaR (expected rate p = 0.05)
SEQ = np.array([0, 0, 1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], dtype=bool)


def test_kupiec_by_hand():
    # x = 4 of T = 20, x/T = 0.2
    # log L0 = 16 ln 0.95 + 4 ln 0.05 = 16(-0.051293) + 4(-2.995732) = -0.820692 - 11.982929 = -12.803621
    # log L1 = 16 ln 0.80 + 4 ln 0.20 = 16(-0.223144) + 4(-1.609438) = -3.570297 -  6.437752 = -10.008049
    # LR_pof = -2 (log L0 - log L1) = -2 (-2.795572) = 5.591144;  chi2(1) tail: 0.01805
    res = kupiec(SEQ, 0.05)
    assert (res["n"], res["exceedances"], res["rate"]) == (20, 4, 0.2)
    assert res["lr_pof"] == pytest.approx(5.591144, abs=1e-4)
    assert res["p_pof"] == pytest.approx(0.01805, abs=1e-4)


def test_christoffersen_by_hand():
    # transitions (I_{t-1}, I_t) over t = 1..19: n00 = 13, n01 = 3, n10 = 2, n11 = 1
    # pi0 = 3/16, pi1 = 1/3, pi = 4/19
    # log L0 = 15 ln(15/19) + 4 ln(4/19) = 15(-0.236389) + 4(-1.558145) = -9.778413
    # log L1 = 13 ln(13/16) + 3 ln(3/16) + 2 ln(2/3) + 1 ln(1/3)
    #        = 13(-0.207639) + 3(-1.673976) + 2(-0.405465) - 1.098612 = -9.630781
    # LR_ind = -2 (-9.778413 + 9.630781) = 0.295264
    # LR_cc = LR_pof + LR_ind = 5.591144 + 0.295264 = 5.886408; chi2(2) tail = exp(-5.886408 / 2) = 0.05270
    res = christoffersen(SEQ, 0.05)
    assert (res["n00"], res["n01"], res["n10"], res["n11"]) == (13, 3, 2, 1)
    assert res["pi0"] == pytest.approx(3 / 16) and res["pi1"] == pytest.approx(1 / 3)
    assert res["lr_ind"] == pytest.approx(0.295264, abs=1e-4)
    assert res["lr_cc"] == pytest.approx(5.886408, abs=1e-4)
    assert res["p_cc"] == pytest.approx(math.exp(-5.886408 / 2), abs=1e-5)


def test_clustered_exceedances_fail_independence_but_not_the_rate():
    scattered = np.zeros(400, bool)
    scattered[::20] = True  # 20 of 400: exactly 5%, evenly spread
    clustered = np.zeros(400, bool)
    clustered[100:120] = True  # the same 20, all in a row
    assert kupiec(scattered, 0.05)["p_pof"] == pytest.approx(1.0)
    assert kupiec(clustered, 0.05)["p_pof"] == pytest.approx(1.0)
    assert christoffersen(scattered, 0.05)["p_ind"] > 0.05
    assert christoffersen(clustered, 0.05)["p_ind"] < 1e-6


def test_pinball_and_interval_score_identities():
    rng = np.random.default_rng(0)
    y, lo = rng.normal(0, 1, (50, 2)), rng.normal(-1, 0.3, (50, 2))
    hi = lo + rng.uniform(0.5, 2, (50, 2))
    a = 0.2
    # Winkler score of the central 80% interval = (2 / alpha) x (pinball at 0.1 + pinball at 0.9)
    pb = pinball(y, np.stack([lo, hi], -1), [a / 2, 1 - a / 2])
    np.testing.assert_allclose(interval_score(y, lo, hi, 1 - a), 2 / a * pb.sum(-1))
    assert pinball(np.array([[1.0]]), np.array([[[0.0]]]), [0.9])[0, 0, 0] == pytest.approx(0.9)
    assert pinball(np.array([[-1.0]]), np.array([[[0.0]]]), [0.9])[0, 0, 0] == pytest.approx(0.1)


def test_pit_histogram_detects_a_too_narrow_forecast():
    rng = np.random.default_rng(1)
    y = rng.normal(0, 1, 2000)
    good, narrow = pit_histogram(stats.norm.cdf(y)), pit_histogram(stats.norm.cdf(y / 0.6))
    assert sum(good["counts"]) == 2000 and len(good["counts"]) == 10
    assert good["p_value"] > 0.01 and narrow["p_value"] < 1e-6
    assert narrow["counts"][0] > 2 * narrow["counts"][5]  # U-shaped


def test_regime_measures_see_only_returns_up_to_the_origin():
    rng = np.random.default_rng(2)
    r = rng.normal(0, 0.01, 300)
    p = np.concatenate([[0.0], np.cumsum(r)])
    origins = np.arange(100, 290)
    actual = (p[origins[:, None] + np.arange(1, 3)] - p[origins][:, None])
    v = trailing_volatility(p, origins, window=20)
    np.testing.assert_allclose(v, [np.sqrt(np.mean(r[t - 20:t] ** 2)) for t in origins])
    w = volatility_from_actual(actual, window=20)
    assert np.all(np.isnan(w[:20]))
    np.testing.assert_allclose(w[20:], v[20:])


def test_coverage_by_regime_splits_into_terciles():
    regime = np.arange(30, dtype=float)
    inside = np.ones((30, 2), bool)
    inside[20:, :] = False  # misses only in the high-volatility third
    rows = coverage_by_regime(inside, regime)
    assert [r["n"] for r in rows] == [10, 10, 10]
    assert [r["coverage"] for r in rows] == [1.0, 1.0, 0.0]


def _regime_data(n=1500, horizon=2, seed=4):
    """Daily returns whose volatility switches between calm and storm in blocks; origins are
    consecutive, and the true sigma is known at each origin."""
    rng = np.random.default_rng(seed)
    sigma = np.repeat(0.006 * np.exp(rng.normal(0, 0.6, n // 50 + 2)), 50)[: n + horizon]
    r = rng.normal(0, 1, n + horizon) * sigma
    p = np.concatenate([[0.0], np.cumsum(r)])
    origins = np.arange(n)
    actual = p[origins[:, None] + np.arange(1, horizon + 1)] - p[origins][:, None]  # (N, H)
    true_scale = np.sqrt(np.cumsum(sigma[origins[:, None] + np.arange(horizon)] ** 2, axis=1))  # (N, H)
    return actual, true_scale, np.sqrt(np.mean(sigma**2))


def test_probabilistic_stats_rewards_the_volatility_aware_forecaster():
    actual, true_scale, avg = _regime_data()
    n, horizon = actual.shape
    dists = {"oracle": Predictive(np.zeros((n, horizon)), true_scale),
             "constant": Predictive(np.zeros((n, horizon)), avg * np.sqrt(np.arange(1, horizon + 1)) * np.ones((n, 1)))}
    regime = true_scale[:, 0]  # known at the origin
    out = probabilistic_stats(dists, actual, regime=regime)
    json.loads(json.dumps(out))  # JSON-serialisable
    oracle, const = out["models"]["oracle"], out["models"]["constant"]
    assert oracle["overall"]["crps"] < const["overall"]["crps"]
    assert oracle["dm_crps"]["constant"]["overall"]["p_better"] < 0.01
    assert const["dm_crps"]["oracle"]["overall"]["p_worse"] < 0.01
    assert oracle["dm_crps"]["constant"]["overall"]["p_worse"] > 0.5
    for pct, level in (("80", 0.8), ("95", 0.95)):
        assert abs(oracle["overall"][f"coverage_{pct}"] - level) < 0.03
        cov = [row["coverage"] for row in oracle["coverage_by_volatility"][pct]]
        assert all(abs(c - level) < 0.06 for c in cov), cov
        const_cov = [row["coverage"] for row in const["coverage_by_volatility"][pct]]
        assert const_cov[-1] < level - 0.1  # a constant width is too narrow in the storm
    assert oracle["pit"]["p_value"] > 0.001 and const["pit"]["p_value"] < 1e-6
    assert oracle["var"]["long"]["p_pof"] > 0.01 and oracle["var"]["short"]["p_pof"] > 0.01
    assert const["var"]["long"]["p_ind"] < 0.01  # misses cluster in the storm blocks
    assert oracle["overall"]["interval_score_95"] < const["overall"]["interval_score_95"]
    assert [s["step"] for s in oracle["per_step"]] == [1, 2]


def test_probabilistic_stats_names_bad_input():
    d = {"a": Predictive(np.zeros((5, 2)), 1.0)}
    with pytest.raises(ForecasterError, match="shape"):
        probabilistic_stats(d, np.zeros((5, 3)))
    with pytest.raises(ForecasterError, match="not among"):
        probabilistic_stats(d, np.zeros((5, 2)), against=["garch_t"])
