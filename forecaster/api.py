"""The Python API, mirrored by the CLI: train, load, predict.

    from forecaster import api
    model = api.train("EURUSD", name="eurusd")        # offline ECB data by default
    forecast = model.predict()                        # next H bars, with 80% and 95% intervals
    model = api.load("eurusd")
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch

from forecaster import checkpoint, intervals, pipeline
from forecaster.data import DataConfig, PriceSeries, load_series, pip_size, prepare
from forecaster.errors import ForecasterError
from forecaster.mamba import MambaForecaster
from forecaster.pipeline import ModelConfig
from forecaster.backtest.trading import bars_per_year
from forecaster.predict import Forecast, check_forecastable, future_dates, risk_summary
from forecaster.training import FitResult, TrainConfig, is_main_process, resolve_device
from forecaster.verdicts import compare_with_random_walk


@dataclass
class SourceSpec:
    """Where the data comes from, saved with the model so that predict and backtest can load it again
    from any folder: a CSV file is stored with its absolute path (and, in the model's fingerprint, the
    hash and date range of the rows trained on)."""

    pair: str = "EURUSD"
    source: str = "ecb"
    interval: str = "1d"
    start: Optional[str] = None
    end: Optional[str] = None
    path: Optional[str] = None
    column: Optional[str] = None  # a wide or long CSV table's price column
    series: Optional[str] = None  # a long CSV table's series

    def __post_init__(self) -> None:
        if self.path is not None:
            self.path = str(Path(self.path).expanduser().resolve())

    def load(self, cache_dir=None, offline: bool = False, pair: Optional[str] = None) -> PriceSeries:
        return load_series(pair or self.pair, source=self.source, interval=self.interval, start=self.start,
                           end=self.end, path=self.path, cache_dir=cache_dir, offline=offline, column=self.column,
                           series=self.series)


@dataclass
class TrainedModel:
    name: str
    model: MambaForecaster
    meta: dict
    folder: Optional[Path] = None
    fit_result: Optional[FitResult] = field(default=None, repr=False)
    notes: list = field(default_factory=list, repr=False)  # what load_series noticed about substitute data

    @property
    def data_config(self) -> DataConfig:
        return DataConfig.from_dict(self.meta["data_config"])

    @property
    def quantiles(self) -> tuple:
        return tuple(self.meta["model_config"]["quantiles"])

    def load_series(self, cache_dir=None, offline: bool = False, latest: bool = True,
                    **overrides) -> tuple[PriceSeries, list]:
        """The model's data source loaded again (and its covariates). latest: up to the newest bar even
        when training stopped at --end, so that predict forecasts from today's data. overrides (source,
        path, column, series...) point at newer data of the same series: it is checked to be the same
        pair and interval and to hold the training range (forecaster.data.check_same_series)."""
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
        return prepare(series, self.data_config, covariates, fitted=self.meta["scalers"])

    def predict(self, series: Optional[PriceSeries] = None, covariates: Sequence[PriceSeries] = (),
                cache_dir=None, offline: bool = False, as_of=None) -> Forecast:
        """The next H bars after the last one in the data (or the last one on or before `as_of`:
        the forecast the model would have made then, never called stale)."""
        if series is None:
            series, covariates = self.load_series(cache_dir, offline)
        if as_of is not None:
            series, covariates = series.until(as_of), [c.until(as_of) for c in covariates]
        check_forecastable(series)
        prep = self.prepare(series, covariates)
        latest = prep.latest_window()
        point, scaled_bands = pipeline.forecast(self.model, latest.x, self.meta["calibration"])  # (1, H), {level: (1, H)}
        last_close = float(latest.last_close[0])
        bands = {
            level: {"lower": prep.to_prices(lo, [last_close])[0], "upper": prep.to_prices(hi, [last_close])[0]}
            for level, (lo, hi) in scaled_bands.items()
        }
        coverage = {lv: v["empirical"] for lv, v in self.meta["metrics"].get("test_coverage", {}).items()}
        dist = pipeline.forecast_distribution(self.model, latest.x, prep.target_scale)
        risk = {} if dist is None else risk_summary(dist, last_close, bars_per_year(series.frame.index), pip_size(series.pair))
        return Forecast(
            pair=series.pair, origin=latest.origin[0], last_close=last_close,
            dates=future_dates(latest.origin[0], len(point[0]), series.interval),
            returns=prep.to_returns(point)[0], prices=prep.to_prices(point, [last_close])[0],
            intervals=bands, coverage=coverage, risk=risk, model=self.name, source=_source_label(series),
            stale={} if as_of is not None else None,
        )


def _source_label(series: PriceSeries) -> str:
    """Short words for a plot title: 'ecb', 'yahoo 1h', 'csv DEXUSEU.csv'."""
    label = series.source
    if series.extra.get("path"):
        label += f" {Path(series.extra['path']).name}"
    return label if series.interval == "1d" else f"{label} {series.interval}"


def train(
    pair: str = "EURUSD", *, name: Optional[str] = None, source: str = "ecb", interval: str = "1d",
    start: Optional[str] = None, end: Optional[str] = None, path: Optional[str] = None,
    column: Optional[str] = None, csv_series: Optional[str] = None, cache_dir=None,
    offline: bool = False, data: Optional[DataConfig] = None, model: Optional[ModelConfig] = None,
    train_config: Optional[TrainConfig] = None, models_dir=None, resume: bool = False, save: bool = True,
    progress: bool = True, series: Optional[PriceSeries] = None,
) -> TrainedModel:
    """Train a Mamba forecaster on a pair (through forecaster.pipeline), score it beside the random
    walk on the validation and test splits, and save it under models_dir/name (rank 0 only under
    torch.distributed)."""
    data = data or DataConfig()
    model = model or ModelConfig()
    train_config = train_config or TrainConfig()
    if name is not None:
        checkpoint.model_dir(name, models_dir)  # a bad name fails before any data is loaded
    spec = SourceSpec(pair=pair, source=source, interval=interval, start=start, end=end, path=path, column=column,
                      series=csv_series)
    series = series or spec.load(cache_dir, offline)
    spec.pair, spec.source, spec.interval = series.pair, series.source, series.interval  # what was trained on
    name = f"{series.pair.lower()}-{series.interval}" if name is None else name
    folder = checkpoint.model_dir(name, models_dir)
    covariates = [spec.load(cache_dir, offline, pair=c) for c in data.covariates]
    prep = prepare(series, data, covariates)
    fitted = pipeline.fit_prepared(prep, model, train_config, state_path=folder / checkpoint.TRAIN_STATE if save else None,
                                   resume=resume, progress=progress)
    result = fitted.result
    metrics = {
        "val_mse": fitted.gate["val_mse"], "val_mse_random_walk": fitted.gate["val_mse_random_walk"],
        "best_epoch": result.best_epoch, "epochs_run": result.history[-1]["epoch"], "train_seconds": fitted.seconds,
        "windows": {**fitted.windows, "test": 0}, "gate": fitted.gate,
    }
    test = prep.windows("test")
    if len(test):
        point, bands = pipeline.forecast(fitted.net, test.x, fitted.calibration)
        y = test.y[:, :, 0]
        metrics["windows"]["test"] = len(test)
        metrics["test_mse"] = float(np.mean((point - y) ** 2))
        metrics["test_mse_random_walk"] = float(np.mean(y**2))
        metrics["test_verdict"] = compare_with_random_walk(np.mean((point - y) ** 2, axis=1), np.mean(y**2, axis=1),
                                                           data.horizon, "test")
        metrics["test_coverage"] = {
            level: {"nominal": float(level), "empirical": intervals.coverage(y, lo, hi), "mean_width": intervals.width(lo, hi)}
            for level, (lo, hi) in bands.items()
        }
    meta = {
        "name": name, "pair": series.pair, "source": spec.__dict__, "model_config": fitted.config.to_dict(),
        "data_config": data.to_dict(), "train_config": train_config.to_dict(), "scalers": fitted.scalers,
        "fingerprint": series.fingerprint(), "metrics": metrics, "history": result.history,
        "calibration": fitted.calibration, "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "device": str(resolve_device(train_config.device)),
    }
    if save and is_main_process():
        pipeline.save(folder, fitted.net, meta)
    return TrainedModel(name=name, model=fitted.net, meta=meta, folder=folder, fit_result=result)


def load(name: str, models_dir=None) -> TrainedModel:
    """A saved model, ready to predict. Raises ForecasterError on a missing, damaged or mismatched save."""
    folder = checkpoint.model_dir(name, models_dir)
    net, meta = pipeline.load(folder)
    return TrainedModel(name=name, model=net, meta=meta, folder=folder)


def list_models(models_dir=None) -> list[dict]:
    root = Path(models_dir or checkpoint.default_models_dir())
    if root.exists() and not root.is_dir():
        raise ForecasterError(f"--models-dir {root} is a file, not a folder: give the folder that holds the models")
    rows = []
    for folder in sorted(p for p in root.glob("*") if p.is_dir()):
        try:
            meta = checkpoint.read_meta(folder)
        except ForecasterError as exc:
            rows.append({"name": folder.name, "error": str(exc)})
            continue
        m = meta.get("metrics", {})
        rows.append({
            "name": folder.name, "pair": meta.get("pair"), "interval": meta["source"].get("interval"),
            "horizon": meta["data_config"]["horizon"], "lookback": meta["data_config"]["lookback"],
            "first": meta["fingerprint"]["first"], "last": meta["fingerprint"]["last"],
            "val_mse": m.get("val_mse"), "val_mse_random_walk": m.get("val_mse_random_walk"),
            "created": meta.get("created"),
        })
    return rows


def device_summary() -> dict:
    return {"torch": torch.__version__, "cuda": torch.cuda.is_available(),
            "devices": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
            "auto": str(resolve_device("auto"))}
