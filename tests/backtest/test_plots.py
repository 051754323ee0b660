"""Plots that tell the truth at a glance, and forecasts that say how old their data is."""

import numpy as np
import pandas as pd
import pytest

from forecaster.backtest import BacktestConfig, run_backtest
from forecaster.backtest.baselines import default_baselines
from forecaster.backtest.plots import U2_SPAN, equity_figure, error_figure, forecast_figure
from forecaster.data import PriceSeries
from forecaster.errors import ForecasterError
from forecaster.model.plots import forecast_title
from forecaster.util.plotting import pyplot
from forecaster.data.calendar import business_days_since, check_forecastable, stale_note, staleness
from forecaster.model.forecast import Forecast


@pytest.fixture(scope="module")
def result():
    returns = np.random.default_rng(3).normal(0, 0.006, 599)
    close = 1.1 * np.exp(np.concatenate([[0.0], np.cumsum(returns)]))
    frame = pd.DataFrame({"close": close}, index=pd.bdate_range("2010-01-04", periods=600, name="date"))
    series = PriceSeries(frame=frame, pair="EURUSD", source="test")
    return run_backtest(series, default_baselines(3), BacktestConfig(horizon=3, test_start="2011-06-01", folds=2))


def test_equity_legend_carries_the_dm_p_value(result):
    fig = equity_figure(result)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    pyplot().close(fig)
    ridge = next(label for label in labels if label.startswith("ridge_ar"))
    p = result.forecast_stats["ridge_ar"]["overall"]["dm_p"]
    assert f"DM p {p:.2f}" in ridge and ("not significant" in ridge) == (p >= 0.05)
    assert any(label.startswith("buy_and_hold: ") and "DM" not in label for label in labels)


def test_u2_axis_is_not_zoomed_into_noise(result):
    fig = error_figure(result)
    low, high = fig.axes[1].get_ylim()
    lines = [line.get_label() for line in fig.axes[1].get_lines()]
    title = fig._suptitle.get_text()
    pyplot().close(fig)
    assert low <= 1 - U2_SPAN and high >= 1 + U2_SPAN and "random walk" in lines
    significant = [n for n, st in result.forecast_stats.items() if n != "random_walk" and st["overall"]["dm_p"] < 0.05]
    assert ("no model beats the random walk significantly" in title) == (not significant)


def test_forecast_panels_share_one_y_scale(result):
    fig = forecast_figure(result)
    limits = {ax.get_ylim() for ax in fig.axes}
    pyplot().close(fig)
    assert len(fig.axes) >= 3 and len(limits) == 1


def forecast(origin, **kw):
    return Forecast(pair="EURUSD", origin=pd.Timestamp(origin), last_close=1.1,
                    dates=pd.bdate_range(pd.Timestamp(origin) + pd.offsets.BDay(1), periods=2),
                    returns=np.zeros(2), prices=np.full(2, 1.1), **kw)


def test_staleness_counts_business_days():
    assert business_days_since(pd.Timestamp("2026-10-30"), pd.Timestamp("2026-11-02")) == 1  # Fri -> Mon
    assert staleness(pd.Timestamp("2026-10-30"), pd.Timestamp("2026-11-04")) is None  # 3 business days: fresh
    stale = staleness(pd.Timestamp("2026-10-30"), pd.Timestamp("2026-11-30"))
    assert stale == {"last_bar": "2026-10-30T00:00:00", "today": "2026-11-30", "business_days": 21}
    assert "21 business days before today (2026-11-30)" in stale_note(stale) and stale_note(None) == ""


def test_a_forecast_states_its_last_bar_and_staleness_in_json_and_title():
    old = forecast("2020-03-06", model="eurusd-1d", source="ecb")
    d = old.to_dict()
    assert d["last_bar"] == "2020-03-06T00:00:00" and d["stale"]["business_days"] > 1000 and d["model"] == "eurusd-1d"
    title = forecast_title(old)
    assert "eurusd-1d" in title and "ecb" in title and "last bar 2020-03-06" in title and "STALE" in title
    fresh = forecast(pd.Timestamp.now().normalize())
    assert fresh.stale is None and fresh.to_dict()["stale"] is None and "STALE" not in forecast_title(fresh)


def test_a_ceased_currency_is_not_forecast():
    from forecaster.data import load_series

    with pytest.raises(ForecasterError, match="CYP ceased to be quoted after 2007-12-31"):
        check_forecastable(load_series("EURCYP"))
    check_forecastable(load_series("EURUSD"))
