"""What a backtested model sees (History), the model interface, and the baselines.

Every model in a backtest is a plain object with

    name: str
    fit(history: History) -> None                      # history ends at the last training row
    predict(history: History) -> (returns (H,), intervals)
        # history ends at the forecast origin t; returns[h-1] = forecast of log(close_{t+h}/close_t);
        # intervals: {level: (lower (H,), upper (H,))} in the same units, or {} when it has none

History is the look-ahead guard: it holds only rows up to its cutoff, and asking it for any row
after the cutoff raises LookAheadError instead of quietly returning less. A model therefore cannot
read the future through what the backtest gives it.

Baselines (all forecasts in cumulative log returns):
    RandomWalk     0: the no-change forecast, the benchmark every statistic is measured against
    Drift          h * (p_t - p_0) / t: the average past log return, extended
    MeanReversion  (m_t - p_t) * (1 - (1 - k)^h): back towards the moving average m of the last
                   `window` log closes at the rate k fitted by least squares on training rows
    RidgeAR        scikit-learn Ridge (on standardised inputs) from the last `lags` log returns
                   to the H cumulative returns, one direct regression per step
"""

from __future__ import annotations

from typing import Optional, Protocol

import numpy as np
import pandas as pd

from forecaster.data import PriceSeries
from forecaster.errors import ForecasterError


class LookAheadError(ForecasterError):
    """A model asked for data after its forecast origin (or after its training cutoff)."""


class History:
    """Rows [start, cutoff] of a series: everything a model may use at bar `cutoff`."""

    def __init__(self, series: PriceSeries, cutoff: int, start: int = 0):
        if not 0 <= start <= cutoff < len(series.frame):
            raise ForecasterError(f"history rows {start}..{cutoff} lie outside the {len(series.frame)} rows of the data")
        self.pair, self.interval, self.source = series.pair, series.interval, series.source
        self.start, self.cutoff = start, cutoff
        self._frame = series.frame.iloc[start : cutoff + 1]  # never anything later
        self._log_close = np.log(self._frame["close"].to_numpy(dtype=np.float64))

    def __len__(self) -> int:
        return len(self._log_close)

    @property
    def date(self) -> pd.Timestamp:
        """The date of the last visible bar (the origin)."""
        return self._frame.index[-1]

    def _span(self, last: Optional[int]) -> int:
        n = len(self._log_close)
        if last is None:
            return n
        if last > n:
            raise LookAheadError(
                f"look-ahead: {last} rows asked for, but only {n} rows up to {self.date.date()} (row {self.cutoff}) "
                f"may be used here"
            )
        return last

    def log_close(self, last: Optional[int] = None) -> np.ndarray:
        """The first `last` visible log closes (all by default)."""
        return self._log_close[: self._span(last)]

    def tail(self, rows: int) -> np.ndarray:
        """The newest `rows` log closes, ending at the cutoff."""
        if rows > len(self._log_close):
            raise ForecasterError(f"{rows} rows asked for, but the history holds {len(self._log_close)}")
        return self._log_close[len(self._log_close) - rows :]

    def series(self, last: Optional[int] = None) -> PriceSeries:
        """The visible rows as a PriceSeries (for models that prepare their own features)."""
        return PriceSeries(frame=self._frame.iloc[: self._span(last)], pair=self.pair, source=self.source,
                           interval=self.interval)


class Model(Protocol):
    name: str

    def fit(self, history: History) -> None: ...

    def predict(self, history: History) -> tuple[np.ndarray, dict]: ...


class _NothingToFit:
    """A baseline whose forecast needs no fitting: its name and horizon."""

    name = ""

    def __init__(self, horizon: int):
        self.horizon = horizon

    def fit(self, history: History) -> None:
        pass


class RandomWalk(_NothingToFit):
    name = "random_walk"

    def predict(self, history: History) -> tuple[np.ndarray, dict]:
        return np.zeros(self.horizon), {}


class Drift(_NothingToFit):
    name = "drift"

    def predict(self, history: History) -> tuple[np.ndarray, dict]:
        p = history.log_close()
        slope = (p[-1] - p[0]) / (len(p) - 1) if len(p) > 1 else 0.0
        return slope * np.arange(1, self.horizon + 1), {}


class MeanReversion:
    def __init__(self, horizon: int, window: int = 20):
        if window < 2:
            raise ForecasterError(f"mean-reversion window={window!r} is invalid: accepted an integer >= 2")
        self.name, self.horizon, self.window = "mean_reversion", horizon, window
        self.rate = 0.0

    def _gaps(self, p: np.ndarray) -> np.ndarray:
        """m_t - p_t for t = window-1 .. len(p)-1."""
        ma = np.convolve(p, np.ones(self.window) / self.window, mode="valid")  # (len - window + 1,)
        return ma - p[self.window - 1 :]

    def fit(self, history: History) -> None:
        p = history.log_close()
        if len(p) < self.window + 2:
            raise ForecasterError(f"mean reversion needs more than {self.window + 1} training rows, got {len(p)}")
        gap = self._gaps(p)[:-1]  # at t, with t+1 still inside the history
        step = np.diff(p)[self.window - 1 :]  # p_{t+1} - p_t
        denom = float(gap @ gap)
        self.rate = float(np.clip((gap @ step) / denom, 0.0, 1.0)) if denom > 0 else 0.0

    def predict(self, history: History) -> tuple[np.ndarray, dict]:
        p = history.tail(self.window)
        gap = p.mean() - p[-1]
        h = np.arange(1, self.horizon + 1)
        return gap * (1.0 - (1.0 - self.rate) ** h), {}


class RidgeAR:
    def __init__(self, horizon: int, lags: int = 10, alpha: float = 1.0):
        if lags < 1 or not alpha >= 0:
            raise ForecasterError(f"ridge lags={lags!r}, alpha={alpha!r} invalid: accepted lags >= 1, alpha >= 0")
        self.name, self.horizon, self.lags, self.alpha = "ridge_ar", horizon, lags, alpha
        self.model = None

    def fit(self, history: History) -> None:
        from sklearn.linear_model import Ridge
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        p = history.log_close()
        r = np.diff(p)  # r[i] = p[i+1] - p[i]
        H, k = self.horizon, self.lags
        origins = np.arange(k, len(p) - H)  # inputs r[t-k..t-1] = returns ending at p_t; targets p_{t+h} - p_t
        if len(origins) < 2 * k + 2:
            raise ForecasterError(f"Ridge AR needs more training rows: {len(p)} for {k} lags and horizon {H}")
        x = np.stack([r[origins - k + j] for j in range(k)], axis=1)  # (N, k), oldest first
        y = p[origins[:, None] + np.arange(1, H + 1)] - p[origins][:, None]  # (N, H)
        self.model = make_pipeline(StandardScaler(), Ridge(alpha=self.alpha)).fit(x, y)

    def predict(self, history: History) -> tuple[np.ndarray, dict]:
        if self.model is None:
            raise ForecasterError("RidgeAR.predict called before fit")
        x = np.diff(history.tail(self.lags + 1))[None, :]  # (1, k)
        return self.model.predict(x).reshape(1, -1)[0], {}


def default_baselines(horizon: int) -> list:
    return [RandomWalk(horizon), Drift(horizon), MeanReversion(horizon), RidgeAR(horizon)]
