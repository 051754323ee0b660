"""Facts about a series' dates: the FX calendar of future bars, bars per year, staleness, and
whether a currency is still quoted."""

from __future__ import annotations

from typing import Optional

import numpy as np
import pandas as pd

from forecaster.errors import ForecasterError


def future_dates(last: pd.Timestamp, steps: int, interval: str) -> pd.DatetimeIndex:
    """The dates of the next bars after `last`, on the FX calendar the data cleaning keeps:
    business days for daily bars; weeks and months for the long intervals; intraday bars that
    skip Saturday and Sunday before 20:00 UTC (FX reopens on Sunday evening)."""
    last = pd.Timestamp(last)
    long_steps = {"1d": pd.offsets.BDay(1), "5d": pd.offsets.BDay(5), "1wk": pd.DateOffset(weeks=1),
                  "1mo": pd.DateOffset(months=1), "3mo": pd.DateOffset(months=3)}
    if interval in long_steps:
        return pd.DatetimeIndex([last + long_steps[interval] * k for k in range(1, steps + 1)])
    try:
        step = pd.Timedelta(interval[:-1] + "min" if interval.endswith("m") else interval)
    except ValueError as exc:
        raise ForecasterError(f"interval {interval!r} is unknown: accepted e.g. 1m, 5m, 1h, 1d, 1wk, 1mo") from exc
    if step <= pd.Timedelta(0):
        raise ForecasterError(f"interval {interval!r} must be a positive duration")
    dates, t = [], last
    while len(dates) < steps:
        t = t + step
        if t.day_of_week == 5 or (t.day_of_week == 6 and t.hour < 20):
            continue
        dates.append(t)
    return pd.DatetimeIndex(dates)


STALE_AFTER_BUSINESS_DAYS = 3  # a last bar further back than this before today makes a forecast stale


def business_days_since(last: pd.Timestamp, today: Optional[pd.Timestamp] = None) -> int:
    """Business days from the date of `last` to today (0 when the last bar is from today or later)."""
    today = pd.Timestamp.now() if today is None else pd.Timestamp(today)
    begin = np.datetime64(pd.Timestamp(last).date(), "D")
    end = np.datetime64(today.date(), "D")
    return int(max(np.busday_count(begin, end), 0))


def staleness(last: pd.Timestamp, today: Optional[pd.Timestamp] = None) -> Optional[dict]:
    """None when the data is fresh; else {"last_bar", "today", "business_days"} saying how far behind it is."""
    today = pd.Timestamp.now().normalize() if today is None else pd.Timestamp(today).normalize()
    days = business_days_since(last, today)
    if days <= STALE_AFTER_BUSINESS_DAYS:
        return None
    return {"last_bar": pd.Timestamp(last).isoformat(), "today": today.date().isoformat(), "business_days": days}


def stale_note(stale: Optional[dict]) -> str:
    """One line for people: '' when fresh."""
    if not stale:
        return ""
    return (f"stale data: the last bar is {stale['last_bar'][:10]}, {stale['business_days']} business days before "
            f"today ({stale['today']}); forecast dates may already have passed")


def check_forecastable(series) -> None:
    """Refuse to forecast a currency that is no longer quoted (the ECB stopped fixing it): its future
    does not exist. `series` is a PriceSeries; its extra["ceased"] is set by the ECB source."""
    ceased = getattr(series, "extra", {}).get("ceased")
    if ceased:
        raise ForecasterError(f"{series.pair}: {ceased['currency']} ceased to be quoted after {ceased['last']} (its "
                              f"last ECB fix): there is nothing to forecast; backtests on its history still work")


def bars_per_year(dates: pd.DatetimeIndex) -> float:
    """Bars per year counted from the data (about 260 for daily FX)."""
    if len(dates) < 2:
        raise ForecasterError("at least two bars are needed to count bars per year")
    years = (dates[-1] - dates[0]).total_seconds() / (365.25 * 86400)
    return (len(dates) - 1) / years
