"""The forecast contract: every model that forecasts from data (the baselines, the risk models,
the Mamba model) is a BacktestModel, and answers with a ModelForecast.

    class MyModel(BacktestModel):
        name = "my_model"
        def fit(self, history): ...                      # history ends at the last training row
        def forecast(self, histories) -> ModelForecast:  # one History per origin, each ending there

`forecast` answers for a batch of origins in ONE call: the point (N, H), the central intervals and,
for a probabilistic model, the distribution (ModelForecast, below). Units
are cumulative log returns, point[i, h-1] = forecast of log(close_{t+h} / close_t) at origin t.

Capabilities are attributes, so the walk-forward asks instead of probing:
    probabilistic   whether forecast() gives a distribution
    saved           a model trained before the backtest (a look-ahead check runs at fit)
    fit_log         one entry per fit that the report shows (empty when there is nothing to say)
    settings()      the data and network configuration the report shows, or None

Every model sees the data only through a History (forecaster.data.history): reading past its
cutoff raises LookAheadError.

ModelForecast, what every model answers for a batch of origins:

    point         (N, H) cumulative log return forecasts, log(close_{t+h} / close_t), h = 1..H
    bands         {level: (lower (N, H), upper (N, H))} central intervals in the same units ({} if none)
    distribution  the forecast distribution (N, H) (forecaster.probabilistic.distributions), or None

Like NeuralForecast's one forecast frame (`model`, `model-lo-80`, `model-hi-80`): the point, the
intervals and the distribution come from one computation, so they always belong together.

It lives below the risk models and the model (which implement it) and the backtest (which runs it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np

from forecaster.data.history import History
from forecaster.errors import ForecasterError
from forecaster.probabilistic.distributions import Distribution
from forecaster.probabilistic.intervals import LEVELS


@dataclass
class ModelForecast:
    point: np.ndarray  # (N, H)
    bands: dict = field(default_factory=dict)  # {level: (lower (N, H), upper (N, H))}
    distribution: Optional[Distribution] = None  # (N, H)

    @classmethod
    def from_distribution(cls, dist: Distribution, point: Optional[np.ndarray] = None) -> "ModelForecast":
        """A forecast read off its distribution: the point given (zeros, the random walk's, by default)
        and the central intervals at LEVELS."""
        point = np.zeros(dist.shape) if point is None else point
        return cls(point=point, bands=dist.intervals(LEVELS), distribution=dist)

    def check(self, n: int, horizon: int, model: str) -> "ModelForecast":
        """self, or a ForecasterError naming the model when a shape is not (n, horizon)."""
        want = (n, horizon)
        if tuple(np.shape(self.point)) != want:
            raise ForecasterError(f"model {model} returned a forecast of shape {np.shape(self.point)}, expected {want}")
        for level, (lo, hi) in self.bands.items():
            if np.shape(lo) != want or np.shape(hi) != want:
                raise ForecasterError(f"model {model} returned {level} intervals of shape {np.shape(lo)}, expected {want}")
        if self.distribution is not None and tuple(self.distribution.shape) != want:
            raise ForecasterError(f"model {model} returned a distribution of shape {self.distribution.shape}, "
                                  f"expected {want}")
        return self


class BacktestModel:
    name: str = ""
    horizon: int
    probabilistic: bool = False
    saved: bool = False

    def __init__(self, horizon: int):
        self.horizon = horizon
        self.fit_log: list = []

    def fit(self, history: History) -> None:
        """Learn from the rows of `history` (nothing to learn by default)."""

    def check(self, history: History) -> None:
        """Raise ForecasterError (naming the model, the dates and the fix) where fit on `history` would
        fail; cheap: the walk-forward asks it of every model for every fold before any model fits."""

    def forecast(self, histories: Sequence[History]) -> ModelForecast:
        raise NotImplementedError

    def settings(self) -> Optional[dict]:
        """{"data": ..., "model": ...} configurations for the report, or None."""
        return None


class PointModel(BacktestModel):
    """A model with a point forecast only, written one origin at a time (`point`)."""

    def point(self, history: History) -> np.ndarray:
        """(H,) the forecast at the history's last bar."""
        raise NotImplementedError

    def forecast(self, histories: Sequence[History]) -> ModelForecast:
        return ModelForecast(point=np.stack([np.asarray(self.point(h), dtype=np.float64) for h in histories]))
