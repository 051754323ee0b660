"""The forecast a person reads: the next H bars after the data as prices, intervals and the
distribution's risk summary (quantiles, volatility, value at risk)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import pandas as pd

from forecaster.data.calendar import staleness
from forecaster.probabilistic.intervals import QUANTILE_LEVELS


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
    design: dict = field(default_factory=dict)  # an anchored model's: its anchor, correction and combination ({} otherwise)

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
            **({"design": self.design} if self.design else {}),
        }




def risk_summary(dist, last_close: float, bars_per_year: float, pip: float) -> dict:
    """What a trader reads off one origin's forecast distribution (distributions.Predictive or
    Quantiles of shape (1, H), cumulative log returns):
        quantiles            {level: (H,) prices} at QUANTILE_LEVELS
        volatility_annual    the one-step standard deviation x sqrt(bars per year) (Quantiles: from
                             the 16% and 84% quantiles, half their distance, as for a normal)
        var_95_1d            the one-step 95% value at risk of a long and of a short position of one
                             unit, in percent of the price and in pips (from the 5% and 95% quantiles)
    """
    q = dist.quantile(QUANTILE_LEVELS)[0]  # (H, Q) log returns
    if hasattr(dist, "std"):
        std1 = float(dist.std()[0, 0])
    else:
        q16, q84 = dist.quantile([0.16, 0.84])[0, 0]
        std1 = float(q84 - q16) / 2
    q05, q95 = dist.quantile([0.05, 0.95])[0, 0]
    long_loss, short_loss = 1 - np.exp(q05), np.exp(q95) - 1  # fractions of the price
    return {
        "quantiles": {str(lv): last_close * np.exp(q[:, i]) for i, lv in enumerate(QUANTILE_LEVELS)},
        "volatility_annual": std1 * float(np.sqrt(bars_per_year)),
        "var_95_1d": {side: {"percent": 100 * loss, "pips": last_close * loss / pip}
                      for side, loss in (("long", float(long_loss)), ("short", float(short_loss)))},
    }


def _finite(value) -> Optional[float]:
    """A float for JSON; None where a bound is unbounded (too few validation windows to calibrate it)."""
    value = float(value)
    return value if np.isfinite(value) and value > 0 else None
