"""The trained model: one object that forecasts (the shape of arch's ARCHModelResult).

The estimator (forecaster.model.estimator) is stateless: fit_prepared / fit_pooled return a
TrainedModel, and so does loading a saved one (load_trained). It holds the network and `meta`,
everything needed to use it on new data: the data and model configurations, the scalers fitted
on the training rows, the split-conformal calibration, and (once saved by api.train) the source,
fingerprint, metrics and loss curves.

    trained.forecast(x)        scaled windows -> ModelForecast (the one forecast call)
    trained.predict(series)    the next H bars after the data -> Forecast (prices, intervals, risk)
    trained.for_pair(pair)     a global model's member, read like a single-pair model

A global model's meta keeps what is shared at the top (configs, calibration, pooled metrics and
loss curves) and, under "members", per pair: its source spec, scalers, fingerprint and metrics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import pandas as pd

from forecaster.configs import ANCHORED, DataConfig
from forecaster.data import PriceSeries, parse_pair, pip_size, prepare
from forecaster.data.calendar import bars_per_year, check_forecastable, future_dates
from forecaster.data.sources import SourceSpec
from forecaster.errors import ForecasterError
from forecaster.mamba import ForecasterConfig, MambaForecaster
from forecaster.model import checkpoint
from forecaster.model.forecast import Forecast, risk_summary
from forecaster.model.inference import forecast
from forecaster.model.trainer import FitResult
from forecaster.probabilistic.contract import ModelForecast


@dataclass
class TrainedModel:
    net: MambaForecaster  # eval mode, on the CPU
    meta: dict  # data_config, model_config, scalers, calibration (+ what api.train saves)
    name: str = ""
    folder: Optional[Path] = None  # where it is saved, if it is
    fit_result: Optional[FitResult] = field(default=None, repr=False)  # the trainer's record (a fresh fit only)
    gate: dict = field(default_factory=dict)  # the validation test that kept or reset the trained location
    windows: dict = field(default_factory=dict)  # split -> windows trained on (pooled: also "pairs": pair -> counts)
    seconds: float = 0.0  # training time
    notes: list = field(default_factory=list, repr=False)  # what load_series noticed about substitute data

    @property
    def data_config(self) -> DataConfig:
        return DataConfig.from_dict(self.meta["data_config"])

    @property
    def config(self):
        """The network's configuration (forecaster.mamba.ForecasterConfig)."""
        return self.net.forecaster_config

    @property
    def quantiles(self) -> tuple:
        return tuple(self.meta["model_config"]["quantiles"])

    @property
    def scalers(self) -> dict:
        """The data's scalers fitted on the training rows (a global model: pair -> that pair's)."""
        return self.meta["scalers"]

    @property
    def calibration(self) -> dict:
        """Split-conformal interval widths per level and step, from the validation windows."""
        return self.meta.get("calibration", {})

    def save(self, folder: Path) -> None:
        """Weights and meta (the network's configuration under "model_config") into folder, atomically."""
        checkpoint.save(folder, self.net.state_dict(), {**self.meta, "model_config": self.config.to_dict()})

    def forecast(self, x: np.ndarray, target_scale: Optional[np.ndarray] = None) -> ModelForecast:
        """Scaled windows x (N, L, C_in) -> ModelForecast in cumulative log returns (mapped back with
        the saved target scale, or target_scale given; a global model needs its member: for_pair)."""
        if target_scale is None:
            self._single("forecast")
            target_scale = self.scalers["target_scale"]
        return forecast(self.net, x, self.calibration, target_scale)

    def panel(self, series: PriceSeries, cache_dir=None, offline: bool = False) -> dict:
        """pair -> series: what the model reads beside `series` (a windowed model: nothing more)."""
        return {series.pair: series}

    @property
    def is_global(self) -> bool:
        """Trained on several pairs at once (its meta holds "members"; a member's view does not)."""
        return "members" in self.meta

    @property
    def pairs(self) -> list[str]:
        """The pairs the model was trained on (one for a single-pair model)."""
        return list(self.meta["pairs"]) if self.is_global else [self.meta["pair"]]

    def for_pair(self, pair: str) -> "TrainedModel":
        """The model as used on one of its pairs: for a global model a view whose meta reads like a
        single-pair model's (that pair's source, scalers, fingerprint and metrics, beside the
        shared configs and calibration); a single-pair model itself when the pair is its own.
        ForecasterError naming the model's pairs otherwise."""
        key = "".join(parse_pair(pair))
        if key not in self.pairs:
            raise ForecasterError(f"model {self.name!r} was trained on {', '.join(self.pairs)}, not {pair}: use it on "
                                  f"{'one of those' if len(self.pairs) > 1 else self.pairs[0]}, or train one for {pair}")
        if not self.is_global:
            return self
        member = self.meta["members"][key]
        shared = {k: v for k, v in self.meta.items() if k not in ("members", "pairs")}
        meta = {**shared, "pair": key, "source": member["source"], "scalers": member["scalers"],
                "fingerprint": member["fingerprint"], "metrics": {**self.meta["metrics"], **member["metrics"]},
                "global_pairs": list(self.pairs)}
        return TrainedModel(net=self.net, meta=meta, name=self.name, folder=self.folder, fit_result=self.fit_result,
                            gate=self.gate, windows=self.windows, seconds=self.seconds)

    def _single(self, what: str) -> None:
        if self.is_global:
            raise ForecasterError(f"model {self.name!r} is a global model of {', '.join(self.pairs)}: say which pair to "
                                  f"{what} (model.for_pair(PAIR); on the command line the PAIR argument)")

    def load_series(self, cache_dir=None, offline: bool = False, latest: bool = True,
                    **overrides) -> tuple[PriceSeries, list]:
        """The model's data source loaded again (and its covariates). latest: up to the newest bar even
        when training stopped at --end, so that predict forecasts from today's data. overrides (source,
        path, column, series...) point at newer data of the same series: it is checked to be the same
        pair and interval and to hold the training range (forecaster.data.check_same_series)."""
        self._single("load")
        saved = {k: v for k, v in self.meta["source"].items() if k in SourceSpec.__dataclass_fields__}
        given = {k: v for k, v in overrides.items() if v is not None}
        if given.get("path") and "source" not in given:
            given["source"] = "csv"
        if given.get("source") and given["source"] != "csv":
            given.setdefault("path", None)
            given.setdefault("column", None)
            given.setdefault("series", None)
        spec = SourceSpec(**{**saved, **given})
        if latest and "end" not in given:
            spec.end = None
        if spec.source == "csv" and spec.path and not Path(spec.path).exists():
            raise ForecasterError(f"model {self.name!r} was trained on {spec.path}, which is not there any more: "
                                  "pass --path FILE (a newer file of the same series)")
        series = spec.load(cache_dir, offline)
        self.notes = []
        if given.keys() & {"source", "path", "column", "series"}:
            from forecaster.data.sources import check_same_series

            self.notes = check_same_series(series, self.meta["fingerprint"])
        covariates = [spec.load(cache_dir, offline, pair=c) for c in self.data_config.covariates]
        return series, covariates

    def prepare(self, series: PriceSeries, covariates: Sequence[PriceSeries] = ()):
        """The series scaled with this model's saved scalers (never refitted)."""
        if self.is_global:
            return self.for_pair(series.pair).prepare(series, covariates)
        return prepare(series, self.data_config, covariates, fitted=self.meta["scalers"])

    def predict(self, series: Optional[PriceSeries] = None, covariates: Sequence[PriceSeries] = (),
                cache_dir=None, offline: bool = False, as_of=None) -> Forecast:
        """The next H bars after the last one in the data (or the last one on or before `as_of`:
        the forecast the model would have made then, never called stale). A global model forecasts
        the pair of the series given, with that pair's scalers."""
        if self.is_global:
            if series is None:
                self._single("forecast")
            return self.for_pair(series.pair).predict(series, covariates, cache_dir, offline, as_of)
        if series is None:
            series, covariates = self.load_series(cache_dir, offline)
        if as_of is not None:
            series, covariates = series.until(as_of), [c.until(as_of) for c in covariates]
        check_forecastable(series)
        prep = self.prepare(series, covariates)
        latest = prep.latest_window()
        out = self.forecast(latest.x)  # (1, H) log returns, {level: (1, H)}, (1, H)
        return self.as_forecast(out, series, latest.origin[0], float(latest.last_close[0]), as_of)

    def as_forecast(self, out: ModelForecast, series: PriceSeries, origin: pd.Timestamp, last_close: float,
                    as_of=None, **extra) -> Forecast:
        """One origin's ModelForecast (1, H) as the Forecast a person reads: prices, intervals, the
        test coverage, the risk summary of its distribution; extra: further Forecast fields."""
        bands = {str(level): {"lower": last_close * np.exp(lo[0]), "upper": last_close * np.exp(hi[0])}
                 for level, (lo, hi) in out.bands.items()}
        dist, point = out.distribution, out.point[0]
        coverage = {lv: v["empirical"] for lv, v in self.meta["metrics"].get("test_coverage", {}).items()}
        risk = {} if dist is None else risk_summary(dist, last_close, bars_per_year(series.frame.index), pip_size(series.pair))
        return Forecast(
            pair=series.pair, origin=origin, last_close=last_close,
            dates=future_dates(origin, len(point), series.interval), returns=point,
            prices=last_close * np.exp(point), intervals=bands, coverage=coverage, risk=risk, model=self.name,
            source=_source_label(series), stale={} if as_of is not None else None, **extra,
        )


def _source_label(series: PriceSeries) -> str:
    """Short words for a plot title: 'ecb', 'yahoo 1h', 'csv DEXUSEU.csv'."""
    label = series.source
    if series.extra.get("path"):
        label += f" {Path(series.extra['path']).name}"
    return label if series.interval == "1d" else f"{label} {series.interval}"


def load_trained(name: str, models_dir=None, pair: Optional[str] = None) -> TrainedModel:
    """A saved model, ready to forecast; with `pair`, as used on that pair (TrainedModel.for_pair: a
    global model's member, or an error naming the model's pairs). Raises ForecasterError on a
    missing, damaged or mismatched save."""
    folder = checkpoint.model_dir(name, models_dir)
    state, meta = checkpoint.load(folder)
    if meta.get("design") == ANCHORED:  # forecaster train --design anchored
        from forecaster.model.anchored_trained import load_anchored

        trained = load_anchored(state, meta, name, folder)
        return trained if pair is None else trained.for_pair(pair)
    try:
        net = MambaForecaster(ForecasterConfig.from_dict(meta["model_config"]))
        net.load_state_dict(state)
    except (KeyError, ValueError, TypeError, RuntimeError) as exc:
        raise ForecasterError(f"{folder}: the weights do not fit the saved configuration ({exc}); retrain the model") from exc
    trained = TrainedModel(net=net.eval(), meta=meta, name=name, folder=folder)
    return trained if pair is None else trained.for_pair(pair)
