"""The Mamba models as BacktestModels.

AnchoredMambaModel (the default design, issue 20; forecaster.model.anchored): trained on each fold's
training History (EWMA and GARCH-t fitted there too); forecast() gives the shipped distribution,
w x anchored ensemble + (1 - w) x GARCH-t, and its `raw()` view the anchored ensemble alone
(`mamba_raw`), from the same fit. fit_log: per fit the weight w, the validation CRPS of EWMA, GARCH-t,
the ensemble and the combination, each member's epochs.

MambaModel (the windowed design) wraps a TrainedModel (forecaster.model.trained).

Two ways in:
  - MambaModel.from_saved(trained, series): a model saved by `forecaster train` and loaded once by
    the caller (api.load); fit() trains nothing but refuses to run when the model's training or
    validation data reach past the training cutoff of the backtest (its weights would have seen the
    test period);
  - MambaModel(data_config, model_config, train_config): trained inside the walk-forward on each
    fold's rows through the estimator (forecaster.model.estimator.fit_prepared), the last `val_frac`
    of them for early stopping and interval calibration; scalers are fitted on the fold's
    training rows only (forecaster.data.prepare with the fold's bounds). Fold k trains with seed
    train_config.seed + k.

forecast() rebuilds the features of the last `lookback` bars from each History alone and scales
them with the fitted scalers (forecaster.data.prepare with the saved scalers): nothing after the
origin is ever read. One forward pass (TrainedModel.forecast) gives the point, the intervals and,
for a distribution or quantile head, the forecast distribution.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Optional, Sequence

import numpy as np
import pandas as pd

from forecaster.configs import ANCHORED, AnchoredConfig, DataConfig, ModelConfig, TrainConfig
from forecaster.data import PriceSeries, build_features, prepare, split_bounds
from forecaster.data.history import History, LookAheadError
from forecaster.errors import ForecasterError
from forecaster.model import estimator
from forecaster.model.anchored import AnchoredFit, fit_anchored
from forecaster.model.anchored_trained import AnchoredTrained
from forecaster.model.trained import TrainedModel
from forecaster.probabilistic.contract import BacktestModel, ModelForecast


class MambaModel(BacktestModel):
    def __init__(self, data_config: DataConfig, model_config: Optional[ModelConfig] = None,
                 train_config: Optional[TrainConfig] = None, val_frac: float = 0.15, name: str = "mamba"):
        if data_config.covariates:
            raise ForecasterError("the backtest does not support covariates yet: train a model without --covariate")
        if not 0 < val_frac < 1:
            raise ForecasterError(f"val_frac={val_frac!r} is invalid: accepted a number in (0, 1)")
        super().__init__(data_config.horizon)
        self.name, self.data_config, self.val_frac = name, data_config, val_frac
        self.model_config, self.train_config = model_config or ModelConfig(), train_config or TrainConfig()
        self.trained: Optional[TrainedModel] = None
        self.seen_until: Optional[pd.Timestamp] = None  # saved model: last date its training used
        self.first_test_start: Optional[pd.Timestamp] = None  # saved model: the first bar it has not seen
        self.fits = 0

    @classmethod
    def from_saved(cls, trained: TrainedModel, series: PriceSeries) -> "MambaModel":
        """A saved model (a global model's member for series.pair: trained.for_pair); `series` (the
        backtest's data) tells when the model's validation data ended."""
        out = cls(trained.data_config, name=f"mamba:{trained.name}")
        out.trained = trained
        out.seen_until = _seen_until(trained.meta, series)
        after = series.frame.index[series.frame.index > out.seen_until]
        out.first_test_start = after[0] if len(after) else None
        return out

    @property
    def saved(self) -> bool:
        return self.seen_until is not None

    @property
    def probabilistic(self) -> bool:
        cfg = self.model_config if self.trained is None else self.trained.config
        return cfg.distribution != "none" or bool(cfg.quantiles)

    def settings(self) -> dict:
        """The data configuration and the trained network's (a saved model's own), else the one it trains with."""
        net = self.model_config if self.trained is None else self.trained.config
        return {"data": self.data_config.to_dict(), "model": net.to_dict()}

    def fit(self, history: History) -> None:
        if self.saved:
            _refuse_a_seen_period(self, history, "use --retrain-every to train inside the folds")
            return
        series = history.series()
        n = len(series.frame) - 1  # feature rows (the first bar has no return)
        n_val = max(int(round(n * self.val_frac)), self.horizon + 1)
        prep = prepare(series, self.data_config, bounds=(n - n_val, n, n))
        seed = self.train_config.seed + self.fits
        trained = estimator.fit_prepared(prep, self.model_config, replace(self.train_config, seed=seed), progress=False)
        result = trained.fit_result
        self.fit_log.append({"cutoff": history.date.isoformat(), "train_windows": trained.windows["train"],
                             "val_windows": trained.windows["val"], "best_epoch": result.best_epoch,
                             "epochs_run": result.history[-1]["epoch"], "best_val_mse": result.best_val_mse,
                             "random_walk_val_mse": result.random_walk_val_mse})
        self.trained = trained
        self.fits += 1

    def _window(self, history: History) -> np.ndarray:
        """(L, C_in) scaled features of the newest lookback bars."""
        L = self.data_config.lookback
        short = history.series()
        short = PriceSeries(frame=short.frame.iloc[-(L + 2):], pair=short.pair, source=short.source,
                            interval=short.interval)  # 2 bars more: no return at the 1st, no previous range at the 2nd
        prep = prepare(short, self.data_config, fitted=self.trained.scalers)
        if len(prep.dates) < L:
            raise ForecasterError(f"origin {history.date.date()}: fewer than {L} bars of history for the lookback")
        return prep.latest_window().x[0]

    def forecast(self, histories: Sequence[History]) -> ModelForecast:
        """One batched forward pass for many origins, each read through its own History."""
        if self.trained is None:
            raise ForecasterError(f"{self.name}: predict called before fit")
        x = np.stack([self._window(h) for h in histories])  # (N, L, C_in)
        return self.trained.forecast(x)


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


class AnchoredMambaModel(BacktestModel):
    """The anchored Mamba trained in the walk-forward; name "mamba" forecasts the combination with
    GARCH-t (or the ensemble alone when config.combine is False), raw() the ensemble alone."""

    probabilistic = True

    def __init__(self, config: Optional[AnchoredConfig] = None, name: str = "mamba"):
        self.config = config or AnchoredConfig()
        super().__init__(self.config.horizon)
        self.name = name
        self.fitted: Optional[AnchoredFit] = None
        self.fitted_on: Optional[tuple] = None  # (start, cutoff) of the history of the last fit
        self.seen_until: Optional[pd.Timestamp] = None  # saved model: last date its training used
        self.first_test_start: Optional[pd.Timestamp] = None  # saved model: the first bar it has not seen
        self._last: tuple = (None, None)  # (origin cutoffs, (model, combination)) of the last forecast call

    @classmethod
    def from_saved(cls, trained: AnchoredTrained, series: PriceSeries) -> "AnchoredMambaModel":
        """A model saved by `forecaster train --design anchored`, backtested as it is: fit() trains
        nothing but refuses a training cutoff before the last bar the model's training or validation
        read (its weights would have seen the test period)."""
        out = cls(trained.config, name=f"mamba:{trained.name}")
        out.fitted, out.seen_until = trained.fit_for(series), trained.seen_until
        after = series.frame.index[series.frame.index > out.seen_until]
        out.first_test_start = after[0] if len(after) else None
        return out

    def raw(self, name: Optional[str] = None) -> "_RawView":
        """The anchored ensemble alone, from this model's fits (a second line-up entry)."""
        return _RawView(self, name or f"{self.name}_raw")

    def with_raw(self) -> list:
        """The line-up entries of this model: itself, and where it ships a combination, its ensemble
        alone beside it (NAME_raw)."""
        return [self, self.raw()] if self.config.combine else [self]

    @property
    def saved(self) -> bool:
        return self.seen_until is not None

    def settings(self) -> dict:
        return {"data": {"horizon": self.horizon, "design": ANCHORED}, "model": self.config.to_dict()}

    def fit(self, history: History) -> None:
        if self.saved:
            _refuse_a_seen_period(self, history, "use --design anchored without --model to train inside the folds")
            return
        key = (history.start, history.cutoff)
        if key == self.fitted_on:
            return
        fold = len(self.fit_log)
        self.fitted = fit_anchored(history, replace(self.config, seed=self.config.seed + 100 * fold))
        self.fitted_on, self._last = key, (None, None)
        val = self.fitted.log["validation"]
        self.fit_log.append({"cutoff": history.date.isoformat(), "weight": self.fitted.weight,
                             "val_crps": {k: val[k] for k in ("ewma", "garch_t", "model", "combined") if k in val},
                             "gate": val.get("gate"),
                             "members": self.fitted.log["members"], "rows": self.fitted.log["rows"],
                             "partner": self.fitted.log["partner"], "partner_note": self.fitted.log["partner_note"],
                             "seconds": self.fitted.log["seconds"]})

    def _distributions(self, histories: Sequence[History]) -> tuple:
        if self.fitted is None:
            raise ForecasterError(f"{self.name}: predict called before fit")
        key = tuple((h.start, h.cutoff) for h in histories)
        if self._last[0] != key:
            self._last = (key, self.fitted.distributions(histories))
        return self._last[1]

    def forecast(self, histories: Sequence[History]) -> ModelForecast:
        model, combined = self._distributions(histories)
        return ModelForecast.from_distribution(model if combined is None else combined)


class _RawView(BacktestModel):
    """The anchored ensemble of an AnchoredMambaModel, without the GARCH-t combination."""

    probabilistic = True

    def __init__(self, parent: AnchoredMambaModel, name: str):
        super().__init__(parent.horizon)
        self.parent, self.name = parent, name

    def settings(self) -> dict:
        return self.parent.settings()

    def fit(self, history: History) -> None:
        self.parent.fit(history)  # nothing new when the parent has fitted on this history

    def forecast(self, histories: Sequence[History]) -> ModelForecast:
        return ModelForecast.from_distribution(self.parent._distributions(histories)[0])


def _refuse_a_seen_period(model, history: History, otherwise: str) -> None:
    """LookAheadError when a saved model's training or validation data reach past the backtest's
    training cutoff: it names the first valid --test-start (or `otherwise`, the way to train in the folds)."""
    if model.seen_until > history.date:
        raise LookAheadError(
            f"look-ahead: the saved model {model.name} was trained and validated on data up to "
            f"{model.seen_until.date()}, after the backtest's training cutoff {history.date.date()}; "
            + (f"the first valid --test-start is {model.first_test_start.date()} (`--test-start auto` takes it), "
               f"or {otherwise}" if model.first_test_start is not None else otherwise))
