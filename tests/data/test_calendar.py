"""The dates of forecast steps follow the FX calendar the data cleaning keeps."""

import pandas as pd
import pytest

from forecaster.errors import ForecasterError
from forecaster.data.calendar import future_dates


def test_daily_steps_are_business_days():
    friday = pd.Timestamp("2024-01-05")
    assert list(future_dates(friday, 3, "1d")) == list(pd.to_datetime(["2024-01-08", "2024-01-09", "2024-01-10"]))


@pytest.mark.parametrize("interval, expected", [
    ("1wk", ["2024-01-12", "2024-01-19"]), ("1mo", ["2024-02-05", "2024-03-05"]), ("3mo", ["2024-04-05", "2024-07-05"]),
])
def test_long_intervals(interval, expected):
    assert list(future_dates(pd.Timestamp("2024-01-05"), 2, interval)) == list(pd.to_datetime(expected))


def test_intraday_steps_skip_the_weekend_close():
    dates = future_dates(pd.Timestamp("2024-01-05 22:00"), 3, "1h")  # Friday evening
    assert [str(d) for d in dates] == ["2024-01-05 23:00:00", "2024-01-07 20:00:00", "2024-01-07 21:00:00"]
    assert [str(d) for d in future_dates(pd.Timestamp("2024-01-08 10:00"), 2, "15m")] == \
        ["2024-01-08 10:15:00", "2024-01-08 10:30:00"]


def test_unknown_interval_is_a_clear_error():
    with pytest.raises(ForecasterError, match="interval 'fortnight' is unknown"):
        future_dates(pd.Timestamp("2024-01-05"), 2, "fortnight")


def test_unbounded_interval_ends_are_null_in_json():
    import json

    import numpy as np

    from forecaster.probabilistic import intervals
    from forecaster.model.forecast import Forecast

    rng = np.random.default_rng(0)
    cal = intervals.calibrate(rng.standard_normal((10, 2)), rng.standard_normal((10, 2)))  # 10 < 19 windows
    assert np.isfinite(cal["0.8"]["c"]).all() and np.isinf(cal["0.95"]["c"]).all()
    lo, hi = intervals.intervals(np.zeros((1, 2)), cal)["0.95"]
    prices = 1.1 * np.exp(np.zeros(2))
    forecast = Forecast(pair="EURUSD", origin=pd.Timestamp("2024-01-05"), last_close=1.1,
                        dates=future_dates(pd.Timestamp("2024-01-05"), 2, "1d"), returns=np.zeros(2), prices=prices,
                        intervals={"0.95": {"lower": 1.1 * np.exp(lo[0]), "upper": 1.1 * np.exp(hi[0])}})
    text = json.dumps(forecast.to_dict(), allow_nan=False)  # strict JSON: no Infinity
    assert json.loads(text)["steps"][0]["interval_95"] == [None, None]
