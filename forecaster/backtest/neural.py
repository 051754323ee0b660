"""The Mamba model behind the backtest's model interface (fit / predict on a History).

Two ways in:
  - MambaModel.from_saved(name, series): a model saved by `forecaster train`; fit() trains nothing
    but refuses to run when the model's training or validation data reach past the training cutoff
    of the backtest (its weights would have seen the test period);
  - MambaModel(data_config, model_config, train_config): trained inside the walk-forward on each
    fold's rows through the one pipeline (forecaster.model.estimator.fit_prepared), the last `val_frac`
    of them for early stopping and interval calibration; scalers are fitted on the fold's
    training rows only (forecaster.data.prepare with the fold's bounds). Fold k trains with seed
    train_config.seed + k.

Prediction rebuilds the features of the last `lookback` bars from the History alone and scales
them with the fitted scalers (forecaster.data.prepare with the saved scalers): nothing after the
origin is ever read. A model with a distribution or quantile head also gives its forecast
distribution (predict_distribution_many: forecaster.model.estimator.forecast_distribution, mapped back with
the fitted target scale). The walk-forward asks for the point forecast and the distribution of the
same origins in turn: one forward pass (estimator.forecast_all) answers both, kept for the last
origins asked.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Optional

import numpy as np
import pandas as pd

from forecaster.model import estimator
from forecaster.backtest.baselines import History, LookAheadError
from forecaster.data import DataConfig, PriceSeries, build_features, prepare, split_bounds
from forecaster.errors import ForecasterError
from forecaster.model.estimator import ModelConfig
from forecaster.model.trainer import TrainConfig


class MambaModel:
    def __init__(self, data_config: DataConfig, model_config: Optional[ModelConfig] = None,
                 train_config: Optional[TrainConfig] = None, val_frac: float = 0.15, name: str = "mamba"):
        if data_config.covariates:
            raise ForecasterError("the backtest does not support covariates yet: train a model without --covariate")
        if not 0 < val_frac < 1:
            raise ForecasterError(f"val_frac={val_frac!r} is invalid: accepted a number in (0, 1)")
        self.name, self.data_config, self.val_frac = name, data_config, val_frac
        self.model_config, self.train_config = model_config or ModelConfig(), train_config or TrainConfig()
        self.horizon = data_config.horizon
        self.net = None
        self.scalers: Optional[dict] = None
        self.calibration: dict = {}
        self.seen_until: Optional[pd.Timestamp] = None  # saved model: last date its training used
        self.first_test_start: Optional[pd.Timestamp] = None  # saved model: the first bar it has not seen
        self.fits = 0
        self.fit_log: list = []  # one entry per training: validation MSE beside the random walk's (scaled)
        self._last: Optional[tuple] = None  # (origin keys, (point, bands, distribution)) of the last prediction

    @classmethod
    def from_saved(cls, name: str, series: PriceSeries, models_dir=None) -> "MambaModel":
        """A saved model; `series` (the backtest's data) tells when the model's validation data ended."""
        from forecaster import api

        trained = api.load(name, models_dir, pair=series.pair)  # a global model: that pair's scalers and splits
        data = trained.data_config
        out = cls(data, name=f"mamba:{name}")
        out.net, out.scalers = trained.model.eval(), trained.meta["scalers"]
        out.calibration = trained.meta.get("calibration", {})
        out.seen_until = _seen_until(trained.meta, series)
        after = series.frame.index[series.frame.index > out.seen_until]
        out.first_test_start = after[0] if len(after) else None
        return out

    @property
    def saved(self) -> bool:
        return self.seen_until is not None

    def fit(self, history: History) -> None:
        if self.saved:
            if self.seen_until > history.date:
                raise LookAheadError(
                    f"look-ahead: the saved model {self.name} was trained and validated on data up to "
                    f"{self.seen_until.date()}, after the backtest's training cutoff {history.date.date()}; "
                    + (f"the first valid --test-start is {self.first_test_start.date()} (`--test-start auto` takes "
                       "it), or use --retrain-every to train inside the folds" if self.first_test_start is not None
                       else "use --retrain-every to train inside the folds")
                )
            return
        series = history.series()
        n = len(series.frame) - 1  # feature rows (the first bar has no return)
        n_val = max(int(round(n * self.val_frac)), self.horizon + 1)
        prep = prepare(series, self.data_config, bounds=(n - n_val, n, n))
        fitted = estimator.fit_prepared(prep, self.model_config, replace(self.train_config, seed=self.train_config.seed + self.fits),
                                       progress=False)
        result = fitted.result
        self.fit_log.append({"cutoff": history.date.isoformat(), "train_windows": fitted.windows["train"],
                             "val_windows": fitted.windows["val"], "best_epoch": result.best_epoch,
                             "epochs_run": result.history[-1]["epoch"], "best_val_mse": result.best_val_mse,
                             "random_walk_val_mse": result.random_walk_val_mse})
        self.net, self.scalers, self.calibration = fitted.net, fitted.scalers, fitted.calibration
        self.fits += 1
        self._last = None

    def _window(self, history: History) -> np.ndarray:
        """(L, C_in) scaled features of the newest lookback bars."""
        L = self.data_config.lookback
        short = history.series()
        short = PriceSeries(frame=short.frame.iloc[-(L + 1):], pair=short.pair, source=short.source,
                            interval=short.interval)  # one bar more: the first bar has no log return
        prep = prepare(short, self.data_config, fitted=self.scalers)
        if len(prep.dates) < L:
            raise ForecasterError(f"origin {history.date.date()}: fewer than {L} bars of history for the lookback")
        return prep.latest_window().x[0]

    def _forecast(self, histories: list) -> tuple:
        """(point (N, H), bands {level: (lower, upper)}, distribution or None) in log-return units, from
        one forward pass over the histories' windows; the last call's answer is kept for the same origins."""
        if self.net is None:
            raise ForecasterError(f"{self.name}: predict called before fit")
        keys = tuple((h.start, h.cutoff, len(h)) for h in histories)
        if self._last is not None and self._last[0] == keys:
            return self._last[1]
        x = np.stack([self._window(h) for h in histories])  # (N, L, C_in)
        scale = np.asarray(self.scalers["target_scale"], dtype=np.float64)  # (H,)
        point, bands, dist = estimator.forecast_all(self.net, x, self.calibration, scale)  # point and bands scaled
        point = point * scale
        bands = {lv: (lo * scale, hi * scale) for lv, (lo, hi) in bands.items()}
        self._last = (keys, (point, bands, dist))
        return self._last[1]

    def predict_distribution_many(self, histories: list):
        """The forecast distribution of the cumulative log returns (N, H) at each History's origin
        (Predictive for a parametric head, Quantiles for a quantile head), or None for a point head."""
        return self._forecast(histories)[2]

    def predict_distribution(self, history: History):
        return self.predict_distribution_many([history])

    def predict_many(self, histories: list) -> list:
        """One batched forward pass for many origins, each read through its own History."""
        point, bands, _ = self._forecast(histories)
        return [(point[i], {lv: (lo[i], hi[i]) for lv, (lo, hi) in bands.items()}) for i in range(len(histories))]

    def predict(self, history: History) -> tuple[np.ndarray, dict]:
        return self.predict_many([history])[0]


def _seen_until(meta: dict, series: PriceSeries) -> pd.Timestamp:
    """The last date whose price a saved model's training or validation targets used: the bar before
    its test split, recomputed from its data configuration on the rows it was trained on."""
    data = DataConfig.from_dict(meta["data_config"])
    first, last = (pd.Timestamp(meta["fingerprint"][k]) for k in ("first", "last"))
    frame = series.frame.loc[first:last]
    if len(frame) == 0:
        raise ForecasterError(f"the saved model was trained on {first.date()}..{last.date()}, outside the backtest data")
    table, _ = build_features(PriceSeries(frame=frame, pair=series.pair, source=series.source), data)
    _, test_start, n = split_bounds(table.index, data.split)
    return table.index[min(test_start, n) - 1]
