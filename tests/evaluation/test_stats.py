"""Known answers for the backtest's statistics and trading simulation, computed by hand here."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sp

from forecaster.backtest import trading
from forecaster.data.calendar import bars_per_year
from forecaster.evaluation import stats
from forecaster.backtest.trading import CostConfig, Simulation
from forecaster.errors import ForecasterError


def _sim(net):
    net = np.asarray(net, dtype=float)
    return Simulation(positions=np.ones(len(net)), gross=net, costs=np.zeros(len(net)), net=net,
                      equity=np.cumprod(1 + net))


def test_sharpe_sortino_known_answer():
    # net returns 1%, -2%, 3%, 0%: mean 0.005; deviations .005 -.025 .025 -.005 -> sum of squares 0.0013
    st = trading.trading_stats(_sim([0.01, -0.02, 0.03, 0.0]), per_year=4)
    std = math.sqrt(0.0013 / 3)
    assert st["sharpe"] == pytest.approx(0.005 / std * 2, rel=1e-12)
    assert st["volatility"] == pytest.approx(std * 2, rel=1e-12)
    downside = math.sqrt(0.02**2 / 4)  # only the -2% bar counts, over all 4 bars
    assert st["sortino"] == pytest.approx(0.005 / downside * 2, rel=1e-12)
    equity_end = 1.01 * 0.98 * 1.03 * 1.0
    assert st["total_return"] == pytest.approx(equity_end - 1, rel=1e-12)
    assert st["cagr"] == pytest.approx(equity_end - 1, rel=1e-12)  # 4 bars at 4 bars a year = 1 year


def test_drawdown_known_answer():
    equity = np.array([1.1, 0.99, 1.045, 1.21, 1.1])
    dd, max_dd, bars = trading.drawdown(equity)
    assert max_dd == pytest.approx(0.99 / 1.1 - 1)  # -10% from the peak of 1.1
    assert bars == 2  # 0.99 and 1.045 stay under 1.1; 1.21 is a new high; 1.1 is one bar under
    assert dd[-1] == pytest.approx(1.1 / 1.21 - 1)
    # a curve that never rises above its start is measured from the starting equity of 1
    _, max_dd, bars = trading.drawdown(np.array([0.9, 0.8, 0.95]))
    assert max_dd == pytest.approx(-0.2) and bars == 3
    st = trading.trading_stats(_sim([0.1, -0.1]), per_year=2)
    assert st["max_drawdown"] == pytest.approx(-0.1)
    assert st["calmar"] == pytest.approx(st["cagr"] / 0.1)


def test_diebold_mariano_known_answers():
    # d = [2, 2, 0, 0], h = 2: nu = 1 projection; centred [1, 1, -1, -1]; the first DCT-II coefficient
    # sqrt(2/4) * (cos(pi/8) + cos(3pi/8) + cos(3pi/8) + cos(pi/8)) has square 2 + sqrt(2); the MA(1)
    # (Hansen-Hodrick) variance gamma0 + 2 gamma1 = 1 + 2 * 0.25 = 1.5 is smaller, so LRV = 2 + sqrt(2)
    assert stats.ewc_projections(4, 2) == 1
    res = stats.diebold_mariano(np.array([2.0, 2, 0, 0]), np.zeros(4), h=2)
    stat = 1 / math.sqrt((2 + math.sqrt(2)) / 4)
    assert res["dm_stat"] == pytest.approx(stat, rel=1e-12)
    assert res["dm_p"] == pytest.approx(sp.t.cdf(stat, df=1), rel=1e-12)  # one-sided: model better if negative
    assert res["dm_p_worse"] == pytest.approx(sp.t.sf(stat, df=1), rel=1e-12)
    # d = [2, 0, 2, 0], h = 1: the projection's square is 2 - sqrt(2) < gamma0 = 1, so LRV = 1 and DM = 2
    res = stats.diebold_mariano(np.array([2.0, 0, 2, 0]), np.zeros(4), h=1)
    assert res["dm_stat"] == pytest.approx(2.0, rel=1e-12)
    # the same d at h = 2: gamma1 = -0.75 makes the MA(1) sum negative; no fall-back to gamma0 any more
    res = stats.diebold_mariano(np.array([2.0, 0, 2, 0]), np.zeros(4), h=2)
    assert res["dm_stat"] == pytest.approx(1 / math.sqrt((2 - math.sqrt(2)) / 4), rel=1e-12)
    # a better model gives a negative statistic and a small p-value
    res = stats.diebold_mariano(np.zeros(4), np.array([2.0, 2, 0, 0]), h=2)
    assert res["dm_stat"] == pytest.approx(-stat) and res["dm_p"] == pytest.approx(sp.t.cdf(-stat, df=1))
    assert math.isnan(stats.diebold_mariano(np.ones(5), np.ones(5), h=1)["dm_p"])
    # nu = floor(N^(1/3)), at most N / (4 h)
    assert stats.ewc_projections(762, 1) == 9 and stats.ewc_projections(762, 96) == 1
    assert stats.ewc_projections(1000, 1) == 10 and stats.ewc_projections(1000, 50) == 5


def test_feedback_bias_known_answer():
    """(1/N) sum_k (1 - k/N) c_k, c_k = (1/N) sum_t x_c[t+k] y_c[t]: the double sum over s > t by hand."""
    rng = np.random.default_rng(1)
    x_c, y_c = rng.normal(size=(9, 2)), rng.normal(size=(9, 2))
    n = 9
    by_hand = sum((1 - (s - t) / n) * float(x_c[s] @ y_c[t]) for s in range(n) for t in range(s)) / n**2
    assert stats.feedback_bias(x_c, y_c, lags=n - 1) == pytest.approx(by_hand, rel=1e-12)
    assert stats.feedback_bias(x_c, y_c, lags=0) == 0.0


def test_pesaran_timmermann_known_answer():
    pred = np.array([1, 1, 1, -1, -1, 1, -1, 1, 1, -1], dtype=float)
    actual = np.array([1, 1, -1, -1, -1, 1, 1, 1, -1, -1], dtype=float)
    # hits 7/10; py = 0.5, px = 0.6; P* = 0.5*0.6 + 0.5*0.4 = 0.5; V(P) = 0.25/10 = 0.025
    # V(P*) = 0 + (0.2)^2 * 0.25 / 10 + 4 * 0.5 * 0.6 * 0.5 * 0.4 / 100 = 0.001 + 0.0024
    res = stats.pesaran_timmermann(pred, actual, feedback_correction=False)
    assert res["accuracy"] == pytest.approx(0.7)
    s = 0.2 / math.sqrt(0.025 - 0.0034)
    assert res["pt_stat"] == pytest.approx(s, rel=1e-12)
    assert res["pt_p"] == pytest.approx(0.5 * math.erfc(s / math.sqrt(2)), rel=1e-9)
    # the feedback correction adds twice feedback_bias of the centred signs to P - P*
    x_c, y_c = (pred > 0) - 0.6, (actual > 0) - 0.5
    corrected = stats.pesaran_timmermann(pred, actual)["pt_stat"]
    assert corrected == pytest.approx((0.2 + 2 * stats.feedback_bias(x_c[:, None], y_c[:, None])) / math.sqrt(0.0216))
    # every forecast the same sign: the test is undefined
    assert math.isnan(stats.pesaran_timmermann(np.ones(10), actual)["pt_stat"])
    assert math.isnan(stats.pesaran_timmermann(np.ones(10), actual, h=3)["pt_stat"])


def test_forecast_stats_prices_u2_mase():
    last = np.array([1.0, 2.0])
    actual = np.log(np.array([[1.1, 1.2], [1.8, 2.2]]) / last[:, None])  # prices 1.1, 1.2 and 1.8, 2.2
    pred = np.log(np.array([[1.0, 1.3], [2.0, 2.0]]) / last[:, None])
    res = stats.forecast_stats(pred, actual, last, scales=np.array([0.1, 0.2]))
    # errors on prices: step 1: -0.1, 0.2; step 2: 0.1, -0.2
    s1 = res["per_step"][0]
    assert s1["mae"] == pytest.approx(0.15) and s1["rmse"] == pytest.approx(math.sqrt((0.01 + 0.04) / 2))
    assert s1["mape"] == pytest.approx(100 * (0.1 / 1.1 + 0.2 / 1.8) / 2)
    assert s1["mase"] == pytest.approx(0.15 / 0.1)
    rw1 = math.sqrt((0.1**2 + 0.2**2) / 2)  # random walk errors 1 - 1.1, 2 - 1.8
    assert s1["theil_u2"] == pytest.approx(s1["rmse"] / rw1)
    assert res["overall"]["mae"] == pytest.approx(0.15)
    assert res["per_step"][1]["mase"] == pytest.approx(0.15 / 0.2)
    assert stats.mase_scale(np.log([1.0, 2.0, 4.0, 3.0]), 2) == pytest.approx((3 + 1) / 2)


def test_position_earns_next_bar_and_costs_equal_spread_times_turnover():
    # the position decided at bar t earns close_t -> close_t+1
    sim = trading.simulate(np.array([1.0, 0.0]), np.array([1.0, 2.0, 1.0]), CostConfig(spread_pips=0))
    np.testing.assert_allclose(sim.gross, [1.0, 0.0])
    # constant price: the only P&L is cost; round trips = sum |dq| / 2 = (1 + 0 + 2 + 1 + 1) / 2 = 2.5
    q = np.array([1.0, 1.0, -1.0, 0.0, 1.0])
    close = np.full(6, 1.25)
    cfg = CostConfig(spread_pips=0.8, pip=0.0001)
    sim = trading.simulate(q, close, cfg)
    st = trading.trading_stats(sim, per_year=260)
    spread = 0.8 * 0.0001 / 1.25  # one full spread as a fraction of the price
    assert st["turnover"] == 2.5
    assert sim.net.sum() == pytest.approx(-spread * 2.5, rel=1e-12)
    assert st["costs_paid"] == pytest.approx(spread * 2.5, rel=1e-12)
    # on a moving price the costs are exactly the difference between gross and net returns
    rng = np.random.default_rng(0)
    close = 1.1 * np.exp(np.cumsum(rng.normal(0, 0.005, 6)))
    free = trading.simulate(q, close, CostConfig(spread_pips=0))
    paid = trading.simulate(q, close, CostConfig(spread_pips=2.0, commission_bp=1.0, slippage_bp=0.5))
    np.testing.assert_allclose(free.gross, paid.gross)
    change = np.abs(np.diff(q, prepend=0))
    np.testing.assert_allclose(free.net - paid.net, change * (2.0 * 1e-4 / 2 / close[:-1] + 1.5e-4), rtol=1e-12)


def test_trades_and_profit_factor():
    # positions: long 2 bars, flat, short 1 bar; no costs; returns of the bars 1%, 2%, 5%, -3%
    close = np.cumprod([1.0, 1.01, 1.02, 1.05, 0.97])
    sim = trading.simulate(np.array([1.0, 1.0, 0.0, -1.0]), close, CostConfig(spread_pips=0))
    st = trading.trading_stats(sim, per_year=260)
    assert st["trades"] == 2 and st["win_rate"] == 1.0
    assert st["exposure"] == 0.75
    assert st["expectancy"] == pytest.approx(((1.01 * 1.02 - 1) + 0.03) / 2)
    assert math.isnan(st["profit_factor"])  # no losing trade


def test_bars_per_year_counted_from_data_and_bad_costs():
    dates = pd.bdate_range("2020-01-01", "2023-12-31")
    assert bars_per_year(dates) == pytest.approx(260.9, abs=0.5)
    with pytest.raises(ForecasterError, match="spread_pips"):
        CostConfig(spread_pips=-1)
    with pytest.raises(ForecasterError, match="one more close"):
        trading.simulate(np.ones(3), np.ones(3), CostConfig())
    assert CostConfig.from_dict(CostConfig(slippage_bp=2).to_dict()) == CostConfig(slippage_bp=2)


def _walks(reps: int, n: int, h: int, seed: int):
    """reps random walks: (reps, n) h-step returns from n origins and the trailing 20-bar return at each
    origin (a momentum forecast: persistent, and independent of the future)."""
    rng = np.random.default_rng(seed)
    log_close = np.cumsum(rng.normal(0, 0.006, (reps, n + h + 20)), axis=1)  # (R, T)
    t = np.arange(20, 20 + n)
    return log_close[:, t + h] - log_close[:, t], log_close[:, t] - log_close[:, t - 20]  # (R, n) each


@pytest.mark.parametrize("h", [1, 5])
def test_pesaran_timmermann_size_on_random_walks(h):
    """No skill, 5% test: rejects 2-9% of the time (the pooled test of N x H returns rejected 15-24%)."""
    reps = 400
    actual, momentum = _walks(reps, 600, h, seed=h)
    noise = np.random.default_rng(100 + h).normal(size=actual.shape)  # (R, n) a forecast of pure noise
    for forecast in (momentum, noise):
        p = np.array([stats.pesaran_timmermann(forecast[r], actual[r], h=h)["pt_p"] for r in range(reps)])
        assert np.all(np.isfinite(p))
        assert 0.02 <= np.mean(p < 0.05) <= 0.09, (h, np.mean(p < 0.05))


def test_overall_pt_not_pooled_as_independent():
    """forecast_stats' overall PT over H = 5 steps keeps its size on random walks."""
    reps, H = 300, 5
    rng = np.random.default_rng(7)
    log_close = np.cumsum(rng.normal(0, 0.006, (reps, 400 + H + 20)), axis=1)
    t = np.arange(20, 420)
    actual = log_close[:, t[:, None] + np.arange(1, H + 1)] - log_close[:, t][:, :, None]  # (R, N, H)
    pred = np.repeat((log_close[:, t] - log_close[:, t - 20])[:, :, None], H, axis=2)  # momentum at every step
    last, scales = np.ones(len(t)), np.ones(H)
    p = np.array([stats.forecast_stats(pred[r], actual[r], last, scales)["overall"]["pt_p"] for r in range(reps)])
    assert 0.02 <= np.mean(p < 0.05) <= 0.09, np.mean(p < 0.05)
    # the old pooled count of N x H signs as independent draws rejects far more often
    pooled = np.array([stats.pesaran_timmermann(pred[r].ravel(), actual[r].ravel(), h=1)["pt_p"] for r in range(reps)])
    assert np.mean(pooled < 0.05) > 0.12


@pytest.mark.parametrize("h", [1, 5])
def test_pesaran_timmermann_finds_real_sign_skill(h):
    """A forecast that knows the sign of the future return 56% of the time is found at h = 1 and h = 5."""
    actual, _ = _walks(1, 1500, h, seed=20 + h)
    rng = np.random.default_rng(30 + h)
    right = rng.random(actual.shape[1]) < 0.56
    forecast = np.where(right, np.sign(actual[0]), -np.sign(actual[0])) * rng.uniform(0.5, 1.5, actual.shape[1])
    res = stats.pesaran_timmermann(forecast, actual[0], h=h)
    assert res["accuracy"] == pytest.approx(np.mean(right), abs=1e-12)
    assert res["pt_p"] < 0.01 and res["pt_stat"] > 0


def test_newey_west_known_answer_and_bad_step():
    # Hansen-Hodrick: equal weights, 1 + 2 * (-3/4) = -0.5 (can be negative; sign_moment_test falls back)
    assert stats.hansen_hodrick(np.array([1.0, -1, 1, -1]), 1) == pytest.approx(-0.5, rel=1e-12)
    # z = [1, -1, 1, -1]: centred itself; gamma0 = 1, gamma1 = -3/4; lags 1: 1 + 2 * (1/2) * (-3/4) = 0.25
    assert stats.newey_west(np.array([1.0, -1, 1, -1]), 1) == pytest.approx(0.25, rel=1e-12)
    assert stats.newey_west(np.array([1.0, -1, 1, -1]), 0) == pytest.approx(1.0, rel=1e-12)
    # gamma2 = (1 + 1) / 4 = 0.5; lags 2: 1 + 2 * (2/3 * -0.75 + 1/3 * 0.5)
    assert stats.newey_west(np.array([1.0, -1, 1, -1]), 2) == pytest.approx(1 + 2 * (-0.5 + 0.5 / 3), rel=1e-12)
    with pytest.raises(ForecasterError, match="h=0"):
        stats.pesaran_timmermann(np.ones(3), np.ones(3), h=0)


def test_spa_controls_the_search_over_models():
    """Twelve no-skill models against a benchmark: the best single DM test rejects often, SPA and RC rarely."""
    rng = np.random.default_rng(3)
    trials, n, m = 40, 200, 12
    spa_rej = rc_rej = best_dm_rej = 0
    for _ in range(trials):
        e = rng.normal(size=(n, m + 1))  # independent errors of equal variance: nobody is better
        loss = e**2
        res = stats.spa_test(loss[:, 0], loss[:, 1:], block=1, reps=200, seed=1)
        spa_rej += res["spa_p"] < 0.05
        rc_rej += res["reality_check_p"] < 0.05
        best_dm_rej += min(stats.diebold_mariano(loss[:, k], loss[:, 0], 1)["dm_p"] for k in range(1, m + 1)) < 0.05
    assert spa_rej / trials <= 0.1 and rc_rej / trials <= 0.1, (spa_rej, rc_rej)
    # why the correction is needed (the EWC DM test, t on 5 df here, is conservative on white noise: 6 of 40)
    assert best_dm_rej / trials >= 0.15 and best_dm_rej > max(spa_rej, rc_rej), (best_dm_rej, spa_rej, rc_rej)


def test_spa_finds_a_better_model_and_is_seeded():
    rng = np.random.default_rng(4)
    n = 400
    bench = rng.normal(size=n) ** 2
    others = rng.normal(size=(n, 3)) ** 2
    good = 0.6 * rng.normal(size=n) ** 2  # a third less loss
    res = stats.spa_test(bench, np.column_stack([others, good]), h=3, reps=500, seed=5)
    assert res["spa_p"] < 0.01 and res["reality_check_p"] < 0.05
    assert res["n"] == n and res["models"] == 4 and res["block"] >= 3 and res["reps"] == 500
    assert res["spa_p_lower"] <= res["spa_p"] <= res["spa_p_upper"]
    assert stats.spa_test(bench, np.column_stack([others, good]), h=3, reps=500, seed=5) == res
    worse = stats.spa_test(bench, 1.5 * others + 0.2, reps=300, seed=5)
    assert worse["spa_p"] > 0.5
    with pytest.raises(ForecasterError, match="same N"):
        stats.spa_test(bench, others[:-1])
    with pytest.raises(ForecasterError, match="NaN"):
        stats.spa_test(np.r_[bench[:-1], np.nan], others)
    with pytest.raises(ForecasterError, match="block=0"):
        stats.spa_test(bench, others, block=0)


def test_spa_vs_random_walk_leaves_out_the_random_walk_itself():
    rng = np.random.default_rng(6)
    n, H = 300, 2
    actual = np.cumsum(rng.normal(0, 0.01, (n, H)), axis=1)  # (N, H)
    forecasts = {"random_walk": np.zeros((n, H)), "oracle": actual * 0.8, "noise": rng.normal(0, 0.01, (n, H))}
    res = stats.spa_vs_random_walk(forecasts, actual, np.full(n, 1.2), reps=300)
    assert res["identical_to_benchmark"] == ["random_walk"] and res["model_names"] == ["oracle", "noise"]
    assert res["models"] == 2 and res["block"] >= H and res["spa_p"] < 0.01
    only_rw = stats.spa_vs_random_walk({"random_walk": np.zeros((n, H))}, actual, np.full(n, 1.2))
    assert only_rw["models"] == 0 and math.isnan(only_rw["spa_p"])
