"""The point baselines of a backtest (all forecasts in cumulative log returns):

    RandomWalk     0: the no-change forecast, the benchmark every statistic is measured against
    Drift          h * (p_t - p_0) / t: the average past log return, extended
    MeanReversion  (m_t - p_t) * (1 - (1 - k)^h): back towards the moving average m of the last
                   `window` log closes at the rate k fitted by least squares on training rows
    RidgeAR        scikit-learn Ridge (on standardised inputs) from the last `lags` log returns
                   to the H cumulative returns, one direct regression per step

Each is a PointModel (forecaster.probabilistic.contract): `point(history)` at one origin.
"""

from __future__ import annotations

import numpy as np

from forecaster.probabilistic.contract import PointModel
from forecaster.data.history import History
from forecaster.errors import ForecasterError




class RandomWalk(PointModel):
    name = "random_walk"

    def point(self, history: History) -> np.ndarray:
        return np.zeros(self.horizon)


class Drift(PointModel):
    name = "drift"

    def point(self, history: History) -> np.ndarray:
        p = history.log_close()
        slope = (p[-1] - p[0]) / (len(p) - 1) if len(p) > 1 else 0.0
        return slope * np.arange(1, self.horizon + 1)


class MeanReversion(PointModel):
    def __init__(self, horizon: int, window: int = 20):
        if window < 2:
            raise ForecasterError(f"mean-reversion window={window!r} is invalid: accepted an integer >= 2")
        super().__init__(horizon)
        self.name, self.window = "mean_reversion", window
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

    def point(self, history: History) -> np.ndarray:
        p = history.tail(self.window)
        gap = p.mean() - p[-1]
        h = np.arange(1, self.horizon + 1)
        return gap * (1.0 - (1.0 - self.rate) ** h)


class RidgeAR(PointModel):
    def __init__(self, horizon: int, lags: int = 10, alpha: float = 1.0):
        if lags < 1 or not alpha >= 0:
            raise ForecasterError(f"ridge lags={lags!r}, alpha={alpha!r} invalid: accepted lags >= 1, alpha >= 0")
        super().__init__(horizon)
        self.name, self.lags, self.alpha = "ridge_ar", lags, alpha
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

    def point(self, history: History) -> np.ndarray:
        if self.model is None:
            raise ForecasterError("RidgeAR.predict called before fit")
        x = np.diff(history.tail(self.lags + 1))[None, :]  # (1, k)
        return self.model.predict(x).reshape(1, -1)[0]


def default_baselines(horizon: int) -> list:
    return [RandomWalk(horizon), Drift(horizon), MeanReversion(horizon), RidgeAR(horizon)]
