"""Forecasting with a trained model: batches of windows, and the next H bars after the data."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch


@torch.no_grad()
def forecast_windows(model: torch.nn.Module, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """x (N, L, C_in) scaled features -> (N, H, C_out[, Q]) scaled forecasts, as numpy."""
    model.eval()
    device = next(model.parameters()).device
    out = [model(torch.as_tensor(x[i : i + batch_size], device=device)).float().cpu().numpy()
           for i in range(0, len(x), batch_size)]
    return np.concatenate(out) if out else np.zeros((0,))


def future_dates(last: pd.Timestamp, steps: int, interval: str) -> pd.DatetimeIndex:
    """The dates of the next bars: business days for daily data, else steps of the interval."""
    if interval == "1d":
        return pd.bdate_range(last + pd.Timedelta(days=1), periods=steps)
    freq = pd.Timedelta(interval.replace("m", "min") if interval.endswith("m") else interval)
    return pd.DatetimeIndex([last + freq * k for k in range(1, steps + 1)])


@dataclass
class Forecast:
    """The next H steps after `origin` as prices and cumulative log returns, with intervals."""

    pair: str
    origin: pd.Timestamp
    last_close: float
    dates: pd.DatetimeIndex
    returns: np.ndarray  # (H,) cumulative log return from the last close
    prices: np.ndarray  # (H,)
    intervals: dict = field(default_factory=dict)  # level -> {"lower": (H,), "upper": (H,)} prices
    coverage: dict = field(default_factory=dict)  # level -> empirical coverage on the test split

    def to_frame(self) -> pd.DataFrame:
        frame = pd.DataFrame({"step": np.arange(1, len(self.dates) + 1), "price": self.prices,
                              "log_return": self.returns}, index=self.dates.rename("date"))
        for level, band in self.intervals.items():
            pct = round(float(level) * 100)
            frame[f"lower_{pct}"], frame[f"upper_{pct}"] = band["lower"], band["upper"]
        return frame

    def to_dict(self) -> dict:
        return {
            "pair": self.pair, "origin": self.origin.isoformat(), "last_close": float(self.last_close),
            "steps": [
                {"date": d.isoformat(), "price": float(p), "log_return": float(r),
                 **{f"interval_{round(float(lv) * 100)}": [float(b["lower"][i]), float(b["upper"][i])]
                    for lv, b in self.intervals.items()}}
                for i, (d, p, r) in enumerate(zip(self.dates, self.prices, self.returns))
            ],
            "test_coverage": {lv: {"nominal": float(lv), "empirical": cov} for lv, cov in self.coverage.items()},
        }
