"""Risk baselines: vectorised filters against slow loops, GARCH on a simulated GARCH-t series,
no look-ahead, and the models inside the existing walk-forward loop."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from forecaster.backtest import BacktestConfig, History, run_backtest
from forecaster.probabilistic.risk import EWMA, GarchT, HistoricalVol, default_risk_models
from forecaster.data import PriceSeries
from forecaster.probabilistic.distributions import Empirical, Predictive
from forecaster.errors import ForecasterError


def _series(returns: np.ndarray) -> PriceSeries:
    close = 1.1 * np.exp(np.concatenate([[0.0], np.cumsum(returns)]))
    frame = pd.DataFrame({"close": close}, index=pd.bdate_range("2012-01-02", periods=len(close), name="date"))
    return PriceSeries(frame=frame, pair="EURUSD", source="test")


def _garch_t(n=2500, omega=0.02, alpha=0.08, beta=0.9, nu=6.0, seed=3):
    """Daily returns (n,) and their true conditional variances (n,), both in log-return units."""
    rng = np.random.default_rng(seed)
    z = rng.standard_t(nu, n) * math.sqrt((nu - 2) / nu)  # unit variance
    var = np.empty(n)
    r = np.empty(n)
    v = omega / (1 - alpha - beta)
    for t in range(n):
        var[t] = v
        r[t] = math.sqrt(v) * z[t]
        v = omega + alpha * r[t] ** 2 + beta * v
    return r / 100.0, var / 1e4


def _histories(series, rows):
    return [History(series, int(t)) for t in rows]


def test_ewma_and_historical_vol_match_slow_loops():
    rng = np.random.default_rng(0)
    r = rng.normal(0, 0.006, 700) * np.repeat([1.0, 2.5, 0.7], [250, 200, 250])
    series = _series(r)
    H, train_end, rows = 4, 400, np.arange(400, 690, 7)
    train = History(series, train_end)
    ewma, hv = EWMA(H), HistoricalVol(H, window=60)
    ewma.fit(train)
    hv.fit(train)
    got_e, got_h = ewma.distribution(_histories(series, rows)), hv.distribution(
        _histories(series, rows))
    p = np.log(series.frame["close"].to_numpy())
    start_var = np.mean(np.diff(p[: train_end + 1]) ** 2)
    for i, t in enumerate(rows):
        ret = np.diff(p[: t + 1])  # the returns visible at origin t
        v = start_var
        for x in ret:
            v = 0.94 * v + 0.06 * x**2
        np.testing.assert_allclose(got_e.scale[i], np.sqrt(v * np.arange(1, H + 1)), rtol=1e-10)
        sd = np.sqrt(np.mean(ret[-60:] ** 2))
        np.testing.assert_allclose(got_h.scale[i], sd * np.sqrt(np.arange(1, H + 1)), rtol=1e-10)
    assert np.all(got_e.loc == 0) and np.isinf(got_e.df)


def test_empirical_historical_vol_quantiles_come_from_standardised_training_returns():
    rng = np.random.default_rng(1)
    r = rng.standard_t(3, 1500) * 0.004  # fat tails: the empirical 97.5% quantile lies beyond the normal's
    series = _series(r)
    H = 2
    model = HistoricalVol(H, dist="empirical")
    model.fit(History(series, 1200))
    dist = model.distribution(_histories(series, [1300]))
    assert isinstance(dist, Empirical) and dist.samples.shape == (1, H, 1000)
    z = dist.quantile([0.005, 0.995])[0, 0] / dist.scale[0, 0]
    assert z[1] > stats.norm.ppf(0.995) * 1.05 and z[0] < -stats.norm.ppf(0.995) * 1.05
    normal = HistoricalVol(H).distribution(_histories(series, [1300]))
    np.testing.assert_allclose(normal.scale, dist.scale)


def test_garch_tracks_the_true_conditional_variance():
    r, true_var = _garch_t()
    series = _series(r)
    H, train_end = 3, 1500
    model = GarchT(H)
    model.fit(History(series, train_end))
    assert 3.0 < model.df < 15.0
    rows = np.arange(train_end, len(r) - H)
    dist = model.distribution(_histories(series, rows))
    assert isinstance(dist, Predictive) and dist.shape == (len(rows), H)
    # origin row t has seen returns r[0..t-1]; the next return is r[t] with true variance true_var[t]
    step1_var = dist.std()[:, 0] ** 2
    rho = stats.spearmanr(step1_var, true_var[rows]).correlation
    assert rho > 0.5, rho
    # a constant-variance model on the same origins has no such correlation; the level is right too
    assert np.median(step1_var / true_var[rows]) == pytest.approx(1.0, abs=0.25)
    assert np.all(np.diff(dist.scale, axis=1) > 0)  # cumulative variance grows with the step


@pytest.mark.parametrize("make", [lambda H: EWMA(H), lambda H: HistoricalVol(H, window=50),
                                  lambda H: HistoricalVol(H, dist="empirical"), lambda H: GarchT(H)])
def test_no_look_ahead_a_planted_shock_moves_only_later_origins(make):
    r, _ = _garch_t(n=1400, seed=5)
    H, train_end, j = 3, 1000, 1200
    shocked = r.copy()
    shocked[j + 5] = 0.2  # a 20% move five bars after origin j (the return into row j + 6)
    a, b = _series(r), _series(shocked)
    model = make(H)
    model.fit(History(a, train_end))
    rows = np.arange(train_end, 1390)
    before = model.distribution(_histories(a, rows)).quantile([0.05, 0.95])
    after = model.distribution(_histories(b, rows)).quantile([0.05, 0.95])
    early = rows <= j + 5
    np.testing.assert_array_equal(before[early], after[early])
    assert not np.allclose(before[~early], after[~early])


def test_predict_is_zero_with_intervals_from_the_distribution():
    r, _ = _garch_t(n=800)
    series = _series(r)
    for model in default_risk_models(2):
        model.fit(History(series, 600))
        out = model.forecast(_histories(series, [699, 700]))
        dist = model.distribution([History(series, 700)])
        point, bands = out.point[1], {lv: (lo[1], hi[1]) for lv, (lo, hi) in out.bands.items()}
        assert np.all(point == 0) and set(bands) == {0.8, 0.95} and out.distribution.shape == (2, 2)
        np.testing.assert_allclose(bands[0.95][1], dist.interval(0.95)[1][0])
        np.testing.assert_allclose(out.distribution.scale[1], dist.scale[0])
        assert np.all(bands[0.95][0] < bands[0.8][0]) and np.all(bands[0.8][1] < bands[0.95][1])


def test_risk_models_run_inside_the_walk_forward_loop():
    r, _ = _garch_t(n=1300, seed=7)
    series = _series(r)
    H = 2
    models = default_risk_models(H)
    res = run_backtest(series, models, BacktestConfig(horizon=H, test_start=str(series.frame.index[900].date()),
                                                      retrain_every=150))
    for m in models:
        assert np.all(res.forecasts[m.name] == 0)
        lo, hi = res.intervals[m.name][0.95]
        assert lo.shape == (len(res.origins), H) and np.all(np.isfinite(lo)) and np.all(lo < hi)
        cover = res.forecast_stats[m.name]["overall"]["coverage_95"]
        assert 0.88 < cover < 0.995, (m.name, cover)  # calibrated models on their own kind of series


def test_bad_settings_are_named():
    with pytest.raises(ForecasterError, match="lambda"):
        EWMA(2, lam=1.5)
    with pytest.raises(ForecasterError, match="dist"):
        HistoricalVol(2, dist="kde")
    with pytest.raises(ForecasterError, match="before fit"):
        GarchT(2).forecast([History(_series(np.zeros(50) + 0.001), 40)])
    series = _series(np.random.default_rng(0).normal(0, 0.01, 300))
    model = EWMA(2)
    model.fit(History(series, 200))
    with pytest.raises(ForecasterError, match="at least 20 returns"):
        model.forecast([History(series, 10)])


def _scored(series, models, first, horizon):
    """Fit on rows up to first - 1, forecast from every later origin, score with probabilistic_stats."""
    from forecaster.evaluation.scores import probabilistic_stats

    rows = np.arange(first, len(series.frame) - horizon)
    dists = {}
    for m in models:
        m.fit(History(series, first - 1))
        dists[m.name] = m.distribution(_histories(series, rows))
    p = np.log(series.frame["close"].to_numpy())
    actual = p[rows[:, None] + np.arange(1, horizon + 1)] - p[rows][:, None]
    return probabilistic_stats(dists, actual)["models"]


def test_garch_beats_historical_vol_on_crps_where_volatility_clusters():
    r, _ = _garch_t(n=2500, seed=0)
    scored = _scored(_series(r), [GarchT(2), HistoricalVol(2)], 1500, 2)
    garch, hist = scored["garch_t"], scored["hist_vol"]
    assert garch["overall"]["crps"] < hist["overall"]["crps"]
    assert garch["dm_crps"]["hist_vol"]["overall"]["p_better"] < 0.05  # EWC DM (issue 21): p = 0.02
    assert hist["dm_crps"]["garch_t"]["overall"]["p_worse"] < 0.05
    assert abs(garch["overall"]["coverage_95"] - 0.95) < 0.03


def test_garch_fit_log_records_each_refit():
    r, _ = _garch_t(n=1300, seed=8)
    series = _series(r)
    model = GarchT(1)
    res = run_backtest(series, [model], BacktestConfig(horizon=1, test_start=str(series.frame.index[1000].date()),
                                                       retrain_every=100))
    log = res.info["fit_log"]["garch_t"]
    assert len(log) == res.info["folds"] and all(entry["converged"] for entry in log)
    assert set(log[0]["params"]) == {"omega", "alpha[1]", "beta[1]", "nu"}
    assert log[0]["train_last"] < log[-1]["train_last"]
