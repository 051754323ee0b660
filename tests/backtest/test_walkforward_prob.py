"""The probabilistic side of the walk-forward: forecast distributions collected from every model that
has them and scored, online calibration (ACI) of the intervals, volatility-targeted sizing, the report."""

import json
import math

import numpy as np
import pytest

from forecaster.backtest import BacktestConfig, BacktestModel, History, ModelForecast, run_backtest
from forecaster.probabilistic.risk import default_risk_models
from forecaster.backtest import trading
from forecaster.backtest.report import markdown_prob_tables, prob_verdicts, write_report
from forecaster.configs import ModelConfig
from forecaster.data import DataConfig
from forecaster.probabilistic.distributions import Predictive, Quantiles
from forecaster.errors import ForecasterError

from conftest import price_series

RISK = ("hist_vol", "hist_vol_empirical", "ewma", "garch_t", "gjr_t")  # the line-up's risk models


def _garch_returns(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    r, var = np.zeros(n), np.full(n, 4e-5)
    for t in range(1, n):
        var[t] = 2e-6 + 0.12 * r[t - 1] ** 2 + 0.83 * var[t - 1]
        r[t] = math.sqrt(var[t]) * rng.standard_normal()
    return r


def _mamba(horizon: int, name: str, distribution: str = "none"):
    from forecaster.backtest.neural import MambaModel
    from forecaster.model.trainer import TrainConfig

    return MambaModel(DataConfig(lookback=12, horizon=horizon, stride=4),
                      ModelConfig(d_model=8, n_layer=1, d_state=4, distribution=distribution, revin=True),
                      TrainConfig(epochs=1, batch_size=256, device="cpu"), name=name)


class StaticBand(BacktestModel):
    """Zero forecast, Gaussian intervals of the training returns' width, never adapted (a model that
    ignores volatility), for the calibration tests."""

    name = "static_band"

    def fit(self, history: History) -> None:
        self.sigma = float(np.std(np.diff(history.log_close())))

    def forecast(self, histories) -> ModelForecast:
        s = np.tile(self.sigma * np.sqrt(np.arange(1, self.horizon + 1)), (len(histories), 1))  # (N, H)
        return ModelForecast(point=np.zeros_like(s), bands={0.8: (-1.2816 * s, 1.2816 * s), 0.95: (-1.96 * s, 1.96 * s)})


@pytest.fixture(scope="module")
def prob_result():
    series = price_series(_garch_returns(900), start="2012-01-02")
    H = 2
    models = [_mamba(H, "mamba", "normal"), _mamba(H, "mamba_point")] + default_risk_models(H)
    config = BacktestConfig(horizon=H, test_start=str(series.frame.index[600].date()), folds=2, vol_target=0.1)
    return series, run_backtest(series, models, config), models


def test_distributions_collected_from_every_model_that_has_one(prob_result):
    series, res, _ = prob_result
    n, H = res.actual.shape
    # the point head gives none; the student-t head and every risk model do, over all origins of both folds
    assert set(res.distributions) == {"mamba", *RISK}
    assert all(d.shape == (n, H) for d in res.distributions.values())
    mamba = res.distributions["mamba"]
    assert isinstance(mamba, Predictive) and np.all(np.isinf(mamba.df))  # a Gaussian head
    # the distribution comes from the same windows as the point forecast: its location is that forecast
    np.testing.assert_allclose(mamba.loc, res.forecasts["mamba"], rtol=1e-5, atol=1e-9)
    # the scale depends on the window, and the scores are those of the distributions on the outcomes
    assert np.std(mamba.scale[:, 0]) > 0
    for name, d in res.distributions.items():
        assert res.prob_stats["models"][name]["overall"]["crps"] == pytest.approx(float(d.crps(res.actual).mean()))
    # DM on CRPS of the Mamba model against every risk model, and of the risk models against each other
    assert set(res.prob_stats["models"]["mamba"]["dm_crps"]) == set(RISK)
    assert "ewma" in res.prob_stats["models"]["garch_t"]["dm_crps"]
    # the regime is the volatility known at each origin
    assert res.regime.shape == (n,) and np.all(np.isfinite(res.regime))
    assert res.info["model_settings"]["mamba"]["model"]["distribution"] == "normal"


def test_volatility_models_beat_a_constant_width_on_garch_data(prob_result):
    _, res, _ = prob_result
    crps = {k: v["overall"]["crps"] for k, v in res.prob_stats["models"].items()}
    assert crps["garch_t"] < crps["hist_vol"] and crps["ewma"] < crps["hist_vol"]


def test_report_holds_the_probabilistic_tables_and_plots(prob_result, tmp_path):
    _, res, _ = prob_result
    paths = write_report(res, tmp_path / "rep")
    data = json.loads((tmp_path / "rep" / "metrics.json").read_text())
    assert set(data["probabilistic"]["models"]) == set(res.distributions)
    assert set(data["probabilistic_verdicts"]["mamba"]) == set(RISK)
    assert set(data["intervals"]["mamba"]) == {"issued", "aci"}
    assert set(data["trading_vol_target"]) == set(data["trading"])
    text = (tmp_path / "rep" / "tables.md").read_text()
    for needle in ("Forecast distributions", "DM p vs ewma", "DM p vs garch_t", "long Kupiec p", "PIT p (step 1)",
                   "cov95 ACI", "| garch_t |", "mamba vs ewma: CRPS"):
        assert needle in text, needle
    assert markdown_prob_tables(data) in text  # the same tables re-made from the saved metrics.json
    for key in ("pit_plot", "coverage_plot"):
        with open(paths[key], "rb") as f:
            assert f.read(4) == b"\x89PNG"


def test_one_forward_pass_gives_the_estimators_point_and_intervals(prob_result):
    from forecaster.model.inference import forecast

    series, res, models = prob_result
    mamba = models[0]
    histories = [History(series, int(t)) for t in res.origins[-30:]]
    x = np.stack([mamba._window(h) for h in histories])  # (30, L, C_in)
    scaled = forecast(mamba.trained.net, x, mamba.trained.calibration)  # scaled units
    scale = np.asarray(mamba.trained.scalers["target_scale"])
    out = mamba.forecast(histories)
    np.testing.assert_allclose(out.point, scaled.point * scale, rtol=1e-6, atol=1e-12)
    assert set(out.bands) == set(scaled.bands) and out.bands
    for level, (lo, hi) in scaled.bands.items():
        np.testing.assert_allclose(out.bands[level][0], lo * scale, rtol=1e-5, atol=1e-10)
        np.testing.assert_allclose(out.bands[level][1], hi * scale, rtol=1e-5, atol=1e-10)
    np.testing.assert_allclose(out.distribution.loc, out.point)


def test_prob_verdicts_need_significance():
    def prob(p_better, p_worse):
        dm = {"overall": {"p_better": p_better, "p_worse": p_worse}}
        return {"settings": {"n_origins": 700},
                "models": {"mamba": {"overall": {"crps": 1e-3}, "dm_crps": {"ewma": dm}},
                           "ewma": {"overall": {"crps": 1.1e-3}, "dm_crps": {}}}}

    assert prob_verdicts(prob(0.01, 0.99))["mamba"]["ewma"].startswith("CRPS lower than ewma's (DM p = 0.010")
    assert prob_verdicts(prob(0.99, 0.0001))["mamba"]["ewma"].startswith("CRPS higher than ewma's (DM p < 0.001")
    weak = prob_verdicts(prob(0.06, 0.94))["mamba"]["ewma"]
    assert weak.startswith("CRPS indistinguishable from ewma's") and "DM p = 0.120, two-sided" in weak
    assert "n = 700 test origins" in weak and "ewma" not in prob_verdicts(prob(0.01, 0.99))  # no verdict of a risk model


def _shifted_series():
    """Calm for 700 bars, then three times the volatility from the test period on."""
    rng = np.random.default_rng(3)
    r = np.concatenate([[0.0], rng.normal(0, 0.003, 699), rng.normal(0, 0.009, 600)])
    return price_series(r, start="2012-01-02")


@pytest.mark.parametrize("calibration", ["aci", "static"])
def test_online_calibration_keeps_coverage_after_a_volatility_shift(calibration):
    series = _shifted_series()
    config = BacktestConfig(horizon=2, test_start=str(series.frame.index[700].date()), calibration=calibration)
    res = run_backtest(series, [StaticBand(2)], config)
    cal = res.calibration_stats["static_band"]
    assert cal["issued"]["0.8"]["coverage"] < 0.5 and cal["issued"]["0.95"]["coverage"] < 0.75  # far too narrow
    if calibration == "static":
        assert "aci" not in cal and res.calibrated_intervals == {}
        return
    for level in ("0.8", "0.95"):
        assert abs(cal["aci"][level]["coverage"] - float(level)) < 0.03, cal["aci"][level]
        assert cal["aci"][level]["interval_score"] < cal["issued"][level]["interval_score"]
    lo, hi = res.calibrated_intervals["static_band"][0.95]
    assert lo.shape == res.actual.shape and np.all(hi > lo)


def test_bad_backtest_settings_are_named():
    with pytest.raises(ForecasterError, match="calibration 'conformal' unknown"):
        BacktestConfig(calibration="conformal")
    with pytest.raises(ForecasterError, match="vol_target"):
        BacktestConfig(vol_target=-0.1)
    with pytest.raises(ForecasterError, match="vol_cap"):
        BacktestConfig(vol_cap=0)
    cfg = BacktestConfig(vol_target=0.1, calibration="static")
    assert BacktestConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg


# ----------------------------------------------------------------------------- volatility targeting

def test_vol_target_positions_and_predictive_sigma():
    q = trading.vol_target_positions(np.array([0.3, -2.0, 0.0, 1.0, 1.0]), np.array([0.01, 0.005, 0.01, 1e-6, 0.0]),
                                     target=0.10, per_year=256, cap=2.0)
    np.testing.assert_allclose(q, [0.10 / 0.16, -0.10 / 0.08, 0.0, 2.0, 2.0])
    d = Predictive(np.zeros((3, 2)), np.full((3, 2), 0.01))
    np.testing.assert_allclose(trading.predictive_sigma(d), 0.01)
    t = Predictive(np.zeros((1, 1)), np.full((1, 1), 0.01), df=5.0)
    np.testing.assert_allclose(trading.predictive_sigma(t), 0.01 * math.sqrt(5 / 3))
    levels = np.array([0.05, 0.1587, 0.5, 0.8413, 0.95])
    grid = Quantiles(levels, 0.02 * np.array([-1.645, -1.0, 0.0, 1.0, 1.645])[None, None, :])
    assert trading.predictive_sigma(grid)[0, 0] == pytest.approx(0.02, rel=1e-3)
    with pytest.raises(ForecasterError, match="same shape"):
        trading.vol_target_positions(np.ones(3), np.ones(2), 0.1, 256)


def test_vol_targeting_hits_its_target_beside_unchanged_unit_size():
    rng = np.random.default_rng(5)
    series = price_series(np.concatenate([[0.0], rng.normal(0, 0.006, 899)]), start="2012-01-02")
    from forecaster.backtest.baselines import RandomWalk

    base = BacktestConfig(horizon=1, test_start=str(series.frame.index[400].date()))
    plain = run_backtest(series, [RandomWalk(1)], base)
    sized = run_backtest(series, [RandomWalk(1)], BacktestConfig.from_dict({**base.to_dict(), "vol_target": 0.05}))
    assert plain.vol_trading_stats == {}
    assert sized.trading_stats["buy_and_hold"] == plain.trading_stats["buy_and_hold"]  # unit size reported as before
    vol = sized.vol_trading_stats["buy_and_hold"]["volatility"]
    assert vol == pytest.approx(0.05, rel=0.15)  # true vol 0.006 * sqrt(260) = 9.7%: the sizing halves it
    assert sized.info["vol_target_sigma"]["buy_and_hold"].startswith("EWMA")


def test_ewma_sizing_reads_nothing_after_the_origin():
    from forecaster.backtest.walkforward import _ewma_sigma

    rng = np.random.default_rng(6)
    r = np.concatenate([[0.0], rng.normal(0, 0.005, 499)])
    shocked = r.copy()
    shocked[351:] *= 5  # a storm after row 350
    origins = np.arange(300, 400)
    a = _ewma_sigma(price_series(r), origins, 300)
    b = _ewma_sigma(price_series(shocked), origins, 300)
    np.testing.assert_array_equal(a[origins <= 350], b[origins <= 350])
    assert np.all(b[origins > 351] > a[origins > 351])


# ----------------------------------------------------------------------------- CLI

def test_cli_backtest_risk_models_vol_target_and_options(tmp_path):
    from typer.testing import CliRunner

    from forecaster.cli import app

    runner = CliRunner()
    base = ["backtest", "EURUSD", "--test-years", "0.3", "--horizon", "2", "--no-plots", "--json"]
    res = runner.invoke(app, base + ["--baselines-only", "--vol-target", "0.1", "--out", str(tmp_path / "a")])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert {"ewma", "garch_t", "hist_vol"} <= set(data["probabilistic"]["models"])
    assert data["config"]["vol_target"] == 0.1 and "buy_and_hold" in data["trading_vol_target"]
    res = runner.invoke(app, base + ["--baselines-only", "--no-risk-models", "--calibration", "static",
                                     "--out", str(tmp_path / "b")])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["probabilistic"] == {} and "garch_t" not in data["trading"]
    res = runner.invoke(app, base + ["--design", "windowed", "--no-risk-models", "--distribution", "normal", "--revin", "--feature", "log_return",
                                     "--feature", "abs_return", "--epochs", "1", "--train-stride", "25", "--lookback", "8",
                                     "--d-model", "8", "--n-layer", "1", "--out", str(tmp_path / "c")])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    settings = data["data"]["model_settings"]["mamba"]
    assert settings["data"]["features"] == ["log_return", "abs_return"] and settings["model"]["revin"] is True
    assert list(data["probabilistic"]["models"]) == ["mamba"]
    res = runner.invoke(app, base + ["--design", "windowed", "--distribution", "cauchy"])
    assert res.exit_code == 1 and "cauchy" in res.output
    res = runner.invoke(app, base + ["--baselines-only", "--calibration", "weekly"])
    assert res.exit_code == 1 and "weekly" in res.output


def test_the_summary_says_what_the_backtest_found_in_a_dozen_short_lines(prob_result):
    from forecaster.backtest.report import SUMMARY_WIDTH, summary_lines

    series, res, models = prob_result
    lines = "\n".join(summary_lines(res)).splitlines()
    assert 4 <= len(lines) <= 16 and all(len(line) <= SUMMARY_WIDTH for line in lines)
    text = "\n".join(lines)
    assert text.startswith("EURUSD") and f"{res.info['origins']} test origins" in text
    best = min(RISK,
               key=lambda r: res.prob_stats["models"][r]["overall"]["crps"])
    assert f"the best risk model {best}'s" in text  # the distribution is read against the best risk model
    assert "calm / mid / stormy" in text and "VaR breaches" in text and "Kupiec" in text
    assert f"long sized to {res.config.risk_target:.0%} volatility" in text and "ewma" in text and "garch_t" in text
    for word in ("lower than", "higher than"):  # a claim only with its test
        for line in lines:
            if word in line:
                assert "DM p" in line


def test_a_long_position_is_sized_by_every_forecast_distribution(prob_result):
    series, res, models = prob_result
    assert set(res.risk_sizing_stats) == set(res.distributions)
    for name, st in res.risk_sizing_stats.items():
        q = res.risk_simulations[name].positions
        assert np.all(q > 0) and np.all(q <= res.config.vol_cap)  # long, capped
        assert st["target"] == res.config.risk_target and set(st["volatility_by_tercile"]) == {"low", "mid", "high"}
        assert 0.3 < st["realised_vs_target"] < 3.0
    # a volatility-aware forecast keeps the realised volatility nearer the target in storms than a constant one
    ewma, calm = res.risk_sizing_stats["ewma"], res.risk_sizing_stats["hist_vol"]
    assert abs(ewma["volatility_by_tercile"]["high"] - ewma["target"]) <= \
        abs(calm["volatility_by_tercile"]["high"] - calm["target"]) + 0.02
