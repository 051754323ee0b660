"""Forecasting with a trained model: batches of windows, and the next H bars after the data."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import pandas as pd
import torch

from forecaster.errors import ForecasterError


@torch.no_grad()
def forecast_windows(model: torch.nn.Module, x: np.ndarray, batch_size: int = 1024, threads: int = 1) -> np.ndarray:
    """x (N, L, C_in) scaled features -> (N, H, C_out[, Q]) scaled forecasts, as numpy.

    threads: torch CPU threads meanwhile (0 = unchanged); one by default, as in training (on a busy
    machine two threads made this 7x slower)."""
    from forecaster.model.trainer import cpu_threads

    model.eval()
    device = next(model.parameters()).device
    with cpu_threads(threads):
        out = [model(torch.as_tensor(x[i : i + batch_size], device=device)).float().cpu().numpy()
               for i in range(0, len(x), batch_size)]
    return np.concatenate(out) if out else np.zeros((0,))


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


@dataclass
class Forecast:
    """The next H steps after `origin` (the last bar used) as prices and cumulative log returns, with
    intervals. `stale` (set on creation against today's date) says when the last bar is old."""

    pair: str
    origin: pd.Timestamp
    last_close: float
    dates: pd.DatetimeIndex
    returns: np.ndarray  # (H,) cumulative log return from the last close
    prices: np.ndarray  # (H,)
    intervals: dict = field(default_factory=dict)  # level -> {"lower": (H,), "upper": (H,)} prices
    coverage: dict = field(default_factory=dict)  # level -> empirical coverage on the test split
    risk: dict = field(default_factory=dict)  # the forecast distribution's summary (risk_summary), {} for a point model
    model: str = ""  # the saved model's name, for titles
    source: str = ""  # where the data came from, for titles
    stale: Optional[dict] = None  # staleness(origin) unless given

    def __post_init__(self) -> None:
        if self.stale is None:
            self.stale = staleness(self.origin)

    def to_frame(self) -> pd.DataFrame:
        frame = pd.DataFrame({"step": np.arange(1, len(self.dates) + 1), "price": self.prices,
                              "log_return": self.returns}, index=self.dates.rename("date"))
        for level, band in self.intervals.items():
            pct = round(float(level) * 100)
            frame[f"lower_{pct}"], frame[f"upper_{pct}"] = band["lower"], band["upper"]
        for level, prices in self.risk.get("quantiles", {}).items():
            frame[f"q{float(level) * 100:g}"] = prices
        return frame

    def to_dict(self) -> dict:
        return {
            "pair": self.pair, "origin": self.origin.isoformat(), "last_bar": self.origin.isoformat(),
            "last_close": float(self.last_close), "model": self.model or None, "source": self.source or None,
            "stale": self.stale,
            "steps": [
                {"date": d.isoformat(), "price": float(p), "log_return": float(r),
                 **{f"interval_{round(float(lv) * 100)}": [_finite(b["lower"][i]), _finite(b["upper"][i])]
                    for lv, b in self.intervals.items()}}
                for i, (d, p, r) in enumerate(zip(self.dates, self.prices, self.returns))
            ],
            "test_coverage": {lv: {"nominal": float(lv), "empirical": cov} for lv, cov in self.coverage.items()},
            "distribution": {**{k: v for k, v in self.risk.items() if k != "quantiles"},
                             "quantiles": {lv: [float(p) for p in prices] for lv, prices in self.risk.get("quantiles", {}).items()}}
            if self.risk else None,
        }


RISK_LEVELS = (0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.975)  # quantiles a forecast reports


def risk_summary(dist, last_close: float, bars_per_year: float, pip: float) -> dict:
    """What a trader reads off one origin's forecast distribution (distributions.Predictive or
    Quantiles of shape (1, H), cumulative log returns):
        quantiles            {level: (H,) prices} at RISK_LEVELS
        volatility_annual    the one-step standard deviation x sqrt(bars per year) (Quantiles: from
                             the 16% and 84% quantiles, half their distance, as for a normal)
        var_95_1d            the one-step 95% value at risk of a long and of a short position of one
                             unit, in percent of the price and in pips (from the 5% and 95% quantiles)
    """
    q = dist.quantile(RISK_LEVELS)[0]  # (H, Q) log returns
    if hasattr(dist, "std"):
        std1 = float(dist.std()[0, 0])
    else:
        q16, q84 = dist.quantile([0.16, 0.84])[0, 0]
        std1 = float(q84 - q16) / 2
    q05, q95 = dist.quantile([0.05, 0.95])[0, 0]
    long_loss, short_loss = 1 - np.exp(q05), np.exp(q95) - 1  # fractions of the price
    return {
        "quantiles": {str(lv): last_close * np.exp(q[:, i]) for i, lv in enumerate(RISK_LEVELS)},
        "volatility_annual": std1 * float(np.sqrt(bars_per_year)),
        "var_95_1d": {side: {"percent": 100 * loss, "pips": last_close * loss / pip}
                      for side, loss in (("long", float(long_loss)), ("short", float(short_loss)))},
    }


def _finite(value) -> Optional[float]:
    """A float for JSON; None where a bound is unbounded (too few validation windows to calibrate it)."""
    value = float(value)
    return value if np.isfinite(value) and value > 0 else None
