"""The one pipeline: the location gate, parametric heads through train/predict, and volatility features."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from forecaster import api
from forecaster.configs import DataConfig, TrainConfig
from forecaster.data import PriceSeries, build_features
from forecaster.probabilistic.distributions import Predictive
from forecaster.errors import ForecasterError

from conftest import TINY_MODEL, ar1_returns, price_series

FAST = TrainConfig(epochs=3, batch_size=32, device="cpu", patience=10, seed=0)


def _train(tmp_path, series, **model):
    return api.train(name="p", design="windowed", series=series, data=DataConfig(lookback=16, horizon=3),
                     model=replace(TINY_MODEL, **model), train_config=FAST, models_dir=tmp_path, progress=False)


def test_gate_resets_a_location_without_significant_skill(tmp_path):
    # on pure noise a 5% test lets about one model in twenty through (more, as early stopping chose on the
    # same windows): over six series, at most one may keep its trained location
    kept = []
    for seed in range(6):
        series = price_series(0.005 * np.random.default_rng(seed).standard_normal(500))
        trained = _train(tmp_path, series)
        gate = trained.meta["metrics"]["gate"]
        assert "random walk" in gate["text"] and gate["n"] > 0
        kept.append(gate["kept"] == "model")
        if gate["kept"] == "no-change":
            assert not gate["dm_p_better"] < 0.05
            assert np.all(trained.predict(series).returns == 0)  # the centre is exactly the no-change forecast
    assert sum(kept) <= 1


def test_gate_keeps_a_location_with_significant_skill(tmp_path):
    trained = _train(tmp_path, price_series(ar1_returns(n=900, phi=0.8)))
    gate = trained.meta["metrics"]["gate"]
    assert gate["kept"] == "model" and gate["dm_p_better"] < 0.05 and gate["verdict"] == "better"


def test_gate_off_keeps_the_trained_model(tmp_path):
    series = price_series(0.005 * np.random.default_rng(3).standard_normal(500))
    trained = api.train(name="q", design="windowed", series=series, data=DataConfig(lookback=16, horizon=3), model=TINY_MODEL,
                        train_config=replace(FAST, gate=1.0), models_dir=tmp_path, progress=False)
    assert trained.meta["metrics"]["gate"]["kept"] == "model"
    with pytest.raises(ForecasterError, match="gate"):
        TrainConfig(gate=0)


@pytest.mark.parametrize("family", ["normal", "student_t"])
def test_parametric_head_trains_saves_and_predicts(tmp_path, family):
    series = price_series(ar1_returns(n=500))
    trained = _train(tmp_path, series, distribution=family, revin=True)
    assert trained.meta["model_config"]["distribution"] == family
    loaded = api.load("p", tmp_path)
    forecast = loaded.predict(series)
    for level in ("0.8", "0.95"):
        band = forecast.intervals[level]
        assert np.all(band["lower"] < forecast.prices) and np.all(forecast.prices < band["upper"])
    wide, narrow = forecast.intervals["0.95"], forecast.intervals["0.8"]
    assert np.all(wide["upper"] - wide["lower"] > narrow["upper"] - narrow["lower"])
    prep = loaded.prepare(series)
    dist = loaded.forecast(prep.windows("test").x).distribution
    assert isinstance(dist, Predictive) and dist.shape == (len(prep.windows("test")), 3)
    assert np.all(dist.scale > 0) and np.all(np.diff(dist.scale, axis=1) > 0)  # wider for later steps


def test_volatility_features_by_hand():
    idx = pd.bdate_range("2021-03-01", periods=4, name="date")
    close = np.array([1.0, 1.1, 1.05, 1.2])
    frame = pd.DataFrame({"open": [1.0, 1.0, 1.1, 1.0], "high": [1.1, 1.2, 1.15, 1.3], "low": [0.9, 0.95, 1.0, 1.0],
                          "close": close}, index=idx)
    names = ("log_return", "abs_return", "squared_return", "parkinson", "garman_klass")
    table, _ = build_features(PriceSeries(frame=frame, pair="EURUSD", source="csv"), DataConfig(lookback=2, horizon=1,
                                                                                                  features=names))
    r = np.log(1.05 / 1.1)  # the second row kept (the first bar has no return)
    u, c = np.log(1.15 / 1.0), np.log(1.05 / 1.1)
    row = table.iloc[1]
    assert row["log_return"] == pytest.approx(r) and row["abs_return"] == pytest.approx(abs(r))
    assert row["squared_return"] == pytest.approx(r * r)
    assert row["parkinson"] == pytest.approx(u * u / (4 * np.log(2)))
    assert row["garman_klass"] == pytest.approx(0.5 * u * u - (2 * np.log(2) - 1) * c * c)
    with pytest.raises(ForecasterError, match="open/high/low"):
        build_features(price_series(np.zeros(10)), DataConfig(lookback=2, horizon=1, features=("parkinson",)))


def test_risk_summary_of_a_known_distribution():
    from scipy import stats

    from forecaster.model.forecast import risk_summary
    from forecaster.probabilistic.intervals import QUANTILE_LEVELS

    dist = Predictive(loc=np.zeros((1, 2)), scale=np.array([[0.004, 0.0057]]), df=np.inf)
    risk = risk_summary(dist, last_close=1.25, bars_per_year=260.0, pip=0.0001)
    assert risk["volatility_annual"] == pytest.approx(0.004 * np.sqrt(260))
    q05 = stats.norm.ppf(0.05, scale=0.004)
    assert risk["var_95_1d"]["long"]["percent"] == pytest.approx(100 * (1 - np.exp(q05)))
    assert risk["var_95_1d"]["long"]["pips"] == pytest.approx(1.25 * (1 - np.exp(q05)) / 0.0001)
    assert risk["var_95_1d"]["short"]["percent"] > risk["var_95_1d"]["long"]["percent"]  # exp is convex
    prices = np.array([risk["quantiles"][str(lv)] for lv in QUANTILE_LEVELS])  # (Q, H)
    assert np.all(np.diff(prices, axis=0) > 0) and prices[QUANTILE_LEVELS.index(0.5), 0] == pytest.approx(1.25)
