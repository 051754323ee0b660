"""The walk-forward loop on simulated series: random walk, AR(1) returns, planted look-ahead, report, CLI."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from forecaster.backtest import BacktestConfig, CostConfig, LookAheadError, run_backtest
from forecaster.backtest.baselines import RandomWalk, RidgeAR, default_baselines
from forecaster.backtest.report import forecasts_frame, markdown_tables, metrics, verdicts, write_report
from forecaster.data import DataConfig, PriceSeries
from forecaster.errors import ForecasterError

from conftest import TINY_MODEL, price_series


def _series(returns: np.ndarray, pair: str = "EURUSD", start: float = 1.1) -> PriceSeries:
    return price_series(np.concatenate([[0.0], returns]), start="2010-01-04", first_close=start, pair=pair, source="test")


def _random_walk(n=1200, seed=1):
    return _series(np.random.default_rng(seed).normal(0, 0.006, n - 1))


def _ar1(n=1600, phi=0.35, seed=2):
    rng = np.random.default_rng(seed)
    e = rng.normal(0, 0.006, n - 1)
    r = np.zeros(n - 1)
    for t in range(1, n - 1):
        r[t] = phi * r[t - 1] + e[t]
    return _series(r)


def _tiny_mamba(horizon: int, lookback: int = 12):
    from forecaster.backtest.neural import MambaModel
    from forecaster.model.trainer import TrainConfig

    return MambaModel(DataConfig(lookback=lookback, horizon=horizon, stride=4), TINY_MODEL,
                      TrainConfig(epochs=1, batch_size=256, device="cpu"))


def test_random_walk_no_skill_and_exact_random_walk_row():
    series = _random_walk()
    H = 3
    test_start = str(series.frame.index[800].date())
    models = default_baselines(H) + [_tiny_mamba(H)]
    res = run_backtest(series, models, BacktestConfig(horizon=H, test_start=test_start))
    for name, st in res.forecast_stats.items():
        if name == "random_walk":
            continue
        p = st["overall"]["dm_p"]
        # NaN only when the forecasts are the random walk's (a fitted reversion rate of 0): no skill either
        assert p > 0.05 or (math.isnan(p) and np.all(res.forecasts[name] == 0)), (name, st["overall"])
    # the random-walk row, recomputed from the prices alone
    close = series.frame["close"].to_numpy()
    t = np.arange(800, len(close) - H)
    rw = res.forecast_stats["random_walk"]
    for h in range(1, H + 1):
        err = close[t] - close[t + h]
        row = rw["per_step"][h - 1]
        assert row["mae"] == pytest.approx(np.mean(np.abs(err)), rel=1e-12)
        assert row["rmse"] == pytest.approx(np.sqrt(np.mean(err**2)), rel=1e-12)
        assert row["theil_u2"] == pytest.approx(1.0, rel=1e-12)
        scale = np.mean(np.abs(close[h:800] - close[: 800 - h]))
        assert row["mase"] == pytest.approx(np.mean(np.abs(err)) / scale, rel=1e-12)
    assert math.isnan(rw["overall"]["dm_stat"])  # the random walk against itself has no differential
    assert res.trading_stats["random_walk"]["trades"] == 0 and res.trading_stats["random_walk"]["total_return"] == 0
    assert res.forecasts["random_walk"].shape == (len(t), H) and np.all(res.forecasts["random_walk"] == 0)
    # the Mamba model gave conformal intervals; coverage is reported
    assert "coverage_80" in res.forecast_stats["mamba"]["overall"]


def test_ridge_beats_random_walk_on_ar1_returns():
    series = _ar1()
    H = 2
    res = run_backtest(series, default_baselines(H), BacktestConfig(horizon=H, test_years=2, retrain_every=250))
    ridge = res.forecast_stats["ridge_ar"]
    assert ridge["overall"]["dm_p"] < 0.05 and ridge["overall"]["dm_stat"] < 0
    assert ridge["overall"]["theil_u2"] < 1
    assert ridge["overall"]["pt_p"] < 0.01
    # some model beats the random walk, after the search over all of them; the sentence says so
    assert res.spa["spa_p"] < 0.05 and res.spa["reality_check_p"] < 0.05
    assert "random_walk" in res.spa["identical_to_benchmark"] and res.spa["block"] >= H
    assert verdicts(res)["ridge_ar"].startswith("better than the random walk (DM p")
    assert f"n = {res.info['origins']} test windows" in verdicts(res)["ridge_ar"]
    assert res.info["folds"] == math.ceil(res.info["origins"] / 250)
    assert list(np.unique(res.fold)) == list(range(res.info["folds"]))


class _Peeker(RandomWalk):
    """Planted look-ahead: reads one bar past what it is given."""

    def __init__(self, horizon, when="predict"):
        super().__init__(horizon)
        self.name, self.when = f"peeker_{when}", when

    def fit(self, history):
        if self.when == "fit":
            history.log_close(len(history) + 1)

    def point(self, history):
        if self.when == "predict":
            future = history.series(len(history) + 1)
            return np.full(self.horizon, float(np.log(future.frame["close"].iloc[-1])))
        return super().point(history)


@pytest.mark.parametrize("when", ["fit", "predict"])
def test_planted_look_ahead_trips_the_guard(when):
    series = _random_walk(400)
    with pytest.raises(LookAheadError, match=f"peeker_{when}.*look-ahead"):
        run_backtest(series, [RandomWalk(2), _Peeker(2, when)], BacktestConfig(horizon=2, test_start="2011-01-03"))


def test_costs_lower_returns_and_config_round_trip():
    series = _ar1(900)
    free = run_backtest(series, [RidgeAR(1)], BacktestConfig(horizon=1, test_years=1, costs=CostConfig(spread_pips=0)))
    paid = run_backtest(series, [RidgeAR(1)], BacktestConfig(horizon=1, test_years=1, costs=CostConfig(spread_pips=3)))
    f, p = free.simulations["ridge_ar"], paid.simulations["ridge_ar"]
    np.testing.assert_array_equal(f.positions, p.positions)
    turnover = paid.trading_stats["ridge_ar"]["turnover"]
    assert turnover > 10
    close = series.frame["close"].to_numpy()[paid.origins]
    change = np.abs(np.diff(p.positions, prepend=0))
    assert (f.net - p.net).sum() == pytest.approx(np.sum(change * 3e-4 / 2 / close), rel=1e-12)
    cfg = BacktestConfig(horizon=4, retrain_every=5, costs=CostConfig(spread_pips=1.5))
    assert BacktestConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg


def test_report_files(tmp_path):
    series = _random_walk(500)
    res = run_backtest(series, default_baselines(2), BacktestConfig(horizon=2, test_start="2011-06-01", folds=2))
    paths = write_report(res, tmp_path / "rep")
    data = json.loads((tmp_path / "rep" / "metrics.json").read_text())
    assert set(data["trading"]) == {"random_walk", "drift", "mean_reversion", "ridge_ar", "buy_and_hold"}
    assert any("swap" in note for note in data["data"]["notes"])
    frame = pd.read_csv(paths["forecasts"])
    assert len(frame) == 4 * res.info["origins"] * 2
    row = frame[(frame.model == "ridge_ar")].iloc[0]
    assert row.actual_price == pytest.approx(row.last_close * math.exp(row.actual_return), rel=1e-6)
    for name in ("equity.png", "error_by_horizon.png", "forecast_vs_actual.png"):
        assert (tmp_path / "rep" / name).read_bytes()[:4] == b"\x89PNG"
    assert "| ridge_ar |" in markdown_tables(res)
    assert forecasts_frame(res).origin.min() >= pd.Timestamp("2011-06-01")
    assert metrics(res)["data"]["folds"] == 2
    # the verdicts and the SPA p-value are in the JSON and the Markdown, never for the random walk itself
    assert set(data["verdicts"]) == {"drift", "mean_reversion", "ridge_ar"} - set(data["multiple_comparisons"]["identical_to_benchmark"])
    assert all(v.split(" (")[0] in ("better than the random walk", "worse than the random walk",
                                    "indistinguishable from the random walk") for v in data["verdicts"].values())
    spa_p = data["multiple_comparisons"]["spa_p"]
    assert 0 <= spa_p <= 1 and f"SPA p = {spa_p:.3f}" in (tmp_path / "rep" / "tables.md").read_text()


def test_bad_configs():
    from forecaster.errors import ForecasterError

    with pytest.raises(ForecasterError, match="retrain_every"):
        BacktestConfig(retrain_every=-1)
    with pytest.raises(ForecasterError, match="either folds"):
        BacktestConfig(folds=3, retrain_every=5)
    with pytest.raises(ForecasterError, match="signal_step"):
        BacktestConfig(horizon=2, signal_step=3)
    with pytest.raises(ForecasterError, match="bars before the test period"):
        run_backtest(_random_walk(300), [RandomWalk(1)], BacktestConfig(horizon=1, test_years=5))


def test_cli_backtest_baselines(tmp_path):
    from typer.testing import CliRunner

    from forecaster.cli import app

    runner = CliRunner()
    out = tmp_path / "cli"
    res = runner.invoke(app, ["backtest", "EURUSD", "--baselines-only", "--test-years", "0.5", "--horizon", "2",
                              "--no-plots", "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["pair"] == "EURUSD" and data["config"]["costs"]["pip"] == 0.0001
    assert data["trading"]["buy_and_hold"]["bars"] == data["data"]["origins"]
    assert (out / "metrics.json").exists()
    res = runner.invoke(app, ["backtest", "USDJPY", "--model", "x", "--retrain-every", "5"])
    assert res.exit_code == 1 and "one or the other" in res.output


def test_saved_model_refuses_a_test_period_it_has_seen(tmp_path):
    from forecaster import api
    from forecaster.backtest.neural import MambaModel
    from forecaster.model.trainer import TrainConfig

    series = _random_walk(600)
    api.train(series=series, name="tiny", design="windowed", source="ecb", data=DataConfig(lookback=12, horizon=2, split=(0.6, 0.2, 0.2)),
              model=TINY_MODEL, train_config=TrainConfig(epochs=1, device="cpu"),
              models_dir=tmp_path, progress=False)
    model = MambaModel.from_saved(api.load("tiny", tmp_path), series)
    # features start at row 1 (the first bar has no return): the test split begins at feature row round(599 * 0.8)
    first_unseen = series.frame.index[1 + round(599 * 0.8)]
    assert model.seen_until < first_unseen
    with pytest.raises(LookAheadError, match="saved model"):
        run_backtest(series, [model], BacktestConfig(horizon=2, test_start=str(series.frame.index[400].date())))
    res = run_backtest(series, [RandomWalk(2), model], BacktestConfig(horizon=2, test_start=str(first_unseen.date())))
    assert res.info["origins"] == 600 - 1 - 2 - (1 + round(599 * 0.8)) + 1
    assert np.isfinite(res.forecast_stats["mamba:tiny"]["overall"]["rmse"])


def test_each_model_is_asked_once_per_fold_and_risk_distributions_are_computed_once(monkeypatch):
    from forecaster.probabilistic import risk

    series = _random_walk(900)
    calls = {"forecast": 0, "distribution": 0}
    original_forecast, original_dist = risk.EWMA.forecast, risk.EWMA.distribution

    def counted_forecast(self, histories):
        calls["forecast"] += 1
        return original_forecast(self, histories)

    def counted_dist(self, histories):
        calls["distribution"] += 1
        return original_dist(self, histories)

    monkeypatch.setattr(risk.EWMA, "forecast", counted_forecast)
    monkeypatch.setattr(risk.EWMA, "distribution", counted_dist)
    folds = 3
    res = run_backtest(series, [RandomWalk(2), risk.EWMA(2)],
                       BacktestConfig(horizon=2, test_start=str(series.frame.index[600].date()), folds=folds))
    assert res.info["folds"] == folds
    assert calls == {"forecast": folds, "distribution": folds}  # the forecast and its distribution: one call a fold
    assert res.distributions["ewma"].shape == res.actual.shape
    np.testing.assert_array_equal(res.forecasts["ewma"], 0.0)


def test_a_forecast_of_the_wrong_shape_is_named():
    from forecaster.backtest import ModelForecast, PointModel

    class Short(PointModel):
        name = "short"

        def forecast(self, histories):
            return ModelForecast(point=np.zeros((len(histories), self.horizon - 1)))

    series = _random_walk(300)
    with pytest.raises(ForecasterError, match="model short returned a forecast of shape"):
        run_backtest(series, [Short(3)], BacktestConfig(horizon=3, test_start=str(series.frame.index[250].date())))
    with pytest.raises(ForecasterError, match="every model must forecast 3 steps"):
        run_backtest(series, [RandomWalk(3), Short(2)], BacktestConfig(test_start=str(series.frame.index[250].date())))
