"""The Python API, mirrored by the CLI: train, load, predict.

    from forecaster import api
    model = api.train("EURUSD", name="eurusd")        # offline ECB data by default
    forecast = model.predict()                        # next H bars, with 80% and 95% intervals
    model = api.load("eurusd")

    glob = api.train("majors")                        # one global model across the ECB majors (or "EURUSD,USDJPY")
    forecast = api.load("majors", pair="USDJPY").predict()   # each pair through its own scalers

A global model's model.json keeps what is shared at the top (configs, weights' calibration, the
pooled metrics and loss curves) and, under "members", per pair: its source spec, scalers, data
fingerprint and test metrics (with the verdict against the random walk). `TrainedModel.for_pair`
gives the view of one member, laid out like a single-pair model's meta, so every reader of a
single-pair model (predict, backtest) reads a member the same way.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional, Sequence, Union

import numpy as np
import torch

from forecaster.model import checkpoint
from forecaster.probabilistic import intervals
from forecaster.model import estimator
from forecaster.data import DataConfig, PriceSeries, expand_pairs, load_series, pip_size, prepare
from forecaster.errors import ForecasterError
from forecaster.mamba import MambaForecaster
from forecaster.model.estimator import ModelConfig
from forecaster.backtest.trading import bars_per_year
from forecaster.model.forecast import Forecast, check_forecastable, future_dates, risk_summary
from forecaster.model.trainer import FitResult, TrainConfig, is_main_process, resolve_device
from forecaster.evaluation.verdicts import compare_with_random_walk


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
        key = pair.upper().replace("/", "")
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
        return TrainedModel(name=self.name, model=self.model, meta=meta, folder=self.folder, fit_result=self.fit_result)

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
        point, scaled_bands, dist = estimator.forecast_all(self.model, latest.x, self.meta["calibration"],
                                                          prep.target_scale)  # (1, H), {level: (1, H)}, (1, H)
        last_close = float(latest.last_close[0])
        bands = {
            level: {"lower": prep.to_prices(lo, [last_close])[0], "upper": prep.to_prices(hi, [last_close])[0]}
            for level, (lo, hi) in scaled_bands.items()
        }
        coverage = {lv: v["empirical"] for lv, v in self.meta["metrics"].get("test_coverage", {}).items()}
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
    pair: Union[str, Sequence[str]] = "EURUSD", *, name: Optional[str] = None, source: str = "ecb",
    interval: str = "1d", start: Optional[str] = None, end: Optional[str] = None, path: Optional[str] = None,
    column: Optional[str] = None, csv_series: Optional[str] = None, cache_dir=None,
    offline: bool = False, data: Optional[DataConfig] = None, model: Optional[ModelConfig] = None,
    train_config: Optional[TrainConfig] = None, models_dir=None, resume: bool = False, save: bool = True,
    progress: bool = True, series: Union[PriceSeries, Mapping[str, PriceSeries], None] = None,
) -> TrainedModel:
    """Train a Mamba forecaster on a pair (through forecaster.model.estimator), score it beside the random
    walk on the validation and test splits, and save it under models_dir/name (rank 0 only under
    torch.distributed).

    pair: one pair, or several ("EURUSD,USDJPY", a list, or a named set such as "majors"): then ONE
    global model is trained on all of them (estimator.fit_pooled), each pair with its own scalers,
    and scored per pair. series: the data itself instead of loading it (a mapping pair -> series
    for a global model)."""
    data = data or DataConfig()
    model = model or ModelConfig()
    train_config = train_config or TrainConfig()
    if name is not None:
        checkpoint.model_dir(name, models_dir)  # a bad name fails before any data is loaded
    pairs = list(series) if isinstance(series, Mapping) else (expand_pairs(pair) if _several(pair) else None)
    if pairs is not None and len(pairs) > 1:
        if column is not None or csv_series is not None:
            raise ForecasterError("--column/--series pick one series of a CSV file: a global model reads its pairs "
                                  "from ecb or yahoo")
        return _train_global(pairs, pair, name=name, source=source, interval=interval, start=start, end=end,
                             path=path, cache_dir=cache_dir, offline=offline, data=data, model=model,
                             train_config=train_config, models_dir=models_dir, resume=resume, save=save,
                             progress=progress, series=series)
    if pairs is not None:  # one pair after all
        series = series[pairs[0]] if isinstance(series, Mapping) else series
        pair = pairs[0]
    spec = SourceSpec(pair=pair, source=source, interval=interval, start=start, end=end, path=path, column=column,
                      series=csv_series)
    series = series or spec.load(cache_dir, offline)
    spec.pair, spec.source, spec.interval = series.pair, series.source, series.interval  # what was trained on
    name = f"{series.pair.lower()}-{series.interval}" if name is None else name
    folder = checkpoint.model_dir(name, models_dir)
    covariates = [spec.load(cache_dir, offline, pair=c) for c in data.covariates]
    prep = prepare(series, data, covariates)
    fitted = estimator.fit_prepared(prep, model, train_config, state_path=folder / checkpoint.TRAIN_STATE if save else None,
                                   resume=resume, progress=progress)
    result = fitted.result
    metrics = {**_fit_metrics(fitted), "windows": {**fitted.windows, "test": 0}}
    metrics.update(_test_metrics(fitted, prep))
    metrics["windows"]["test"] = metrics.pop("test_windows")
    meta = {
        "name": name, "pair": series.pair, "source": spec.__dict__, "model_config": fitted.config.to_dict(),
        "data_config": data.to_dict(), "train_config": train_config.to_dict(), "scalers": fitted.scalers,
        "fingerprint": series.fingerprint(), "metrics": metrics, "history": result.history,
        "calibration": fitted.calibration, "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "device": str(resolve_device(train_config.device)),
    }
    if save and is_main_process():
        estimator.save(folder, fitted.net, meta)
    return TrainedModel(name=name, model=fitted.net, meta=meta, folder=folder, fit_result=result)


def _several(pair) -> bool:
    """Whether `pair` names more than one pair's worth of text: a list, commas, or a named set."""
    from forecaster.configs import PAIR_SETS

    return not isinstance(pair, str) or "," in pair or pair.strip().lower() in PAIR_SETS


def _fit_metrics(fitted: estimator.Fitted) -> dict:
    """What training itself says: the validation MSE beside the random walk's, the gate, epochs, time."""
    result = fitted.result
    return {"val_mse": fitted.gate["val_mse"], "val_mse_random_walk": fitted.gate["val_mse_random_walk"],
            "best_epoch": result.best_epoch, "epochs_run": result.history[-1]["epoch"],
            "train_seconds": fitted.seconds, "gate": fitted.gate}


def _test_metrics(fitted: estimator.Fitted, prep) -> dict:
    """The test split of one pair: MSE beside the random walk's, the verdict (DM test), interval coverage.
    {"test_windows": 0} when the split holds no window."""
    test = prep.windows("test")
    if not len(test):
        return {"test_windows": 0}
    point, bands = estimator.forecast(fitted.net, test.x, fitted.calibration)  # (N, H), {level: (N, H) pairs}
    y = test.y[:, :, 0]
    return {
        "test_windows": len(test), "test_mse": float(np.mean((point - y) ** 2)),
        "test_mse_random_walk": float(np.mean(y**2)),
        "test_verdict": compare_with_random_walk(np.mean((point - y) ** 2, axis=1), np.mean(y**2, axis=1),
                                                 prep.config.horizon, "test"),
        "test_coverage": {
            level: {"nominal": float(level), "empirical": intervals.coverage(y, lo, hi), "mean_width": intervals.width(lo, hi)}
            for level, (lo, hi) in bands.items()
        },
    }


def _train_global(pairs: list[str], asked, *, name, source, interval, start, end, path, cache_dir, offline, data,
                  model, train_config, models_dir, resume, save, progress, series) -> TrainedModel:
    """One model on several pairs (api.train with more than one pair)."""
    from forecaster.configs import PAIR_SETS

    if path is not None or source == "csv":
        raise ForecasterError("a global model reads each pair from a source that serves any pair (ecb or yahoo); "
                              "--path/--source csv holds one series: train on the file alone, without --pairs")
    if series is not None and not isinstance(series, Mapping):
        raise ForecasterError(f"one series given for {len(pairs)} pairs ({', '.join(pairs)}): give a mapping "
                              "pair -> series, or no series to load each pair from the source")
    loaded: dict[str, PriceSeries] = {}
    specs: dict[str, SourceSpec] = {}
    for pair in pairs:
        spec = SourceSpec(pair=pair, source=source, interval=interval, start=start, end=end)
        one = series[pair] if isinstance(series, Mapping) else spec.load(cache_dir, offline)
        if one.pair != pair:
            raise ForecasterError(f"the series given for {pair} holds {one.pair}: give each pair its own series")
        spec.pair, spec.source, spec.interval = one.pair, one.source, one.interval
        loaded[pair], specs[pair] = one, spec
    intervals_seen = sorted({s.interval for s in loaded.values()})
    if len(intervals_seen) > 1:
        raise ForecasterError(f"the pairs' bars differ ({', '.join(intervals_seen)}): a global model needs one interval")
    bar = intervals_seen[0]
    if name is None:
        label = asked.strip().lower() if isinstance(asked, str) and asked.strip().lower() in PAIR_SETS else \
            "-".join(p.lower() for p in pairs)
        name = label if bar == "1d" else f"{label}-{bar}"
    folder = checkpoint.model_dir(name, models_dir)
    preps = {}
    for pair, one in loaded.items():
        covariates = [specs[pair].load(cache_dir, offline, pair=c) for c in data.covariates]
        preps[pair] = prepare(one, data, covariates)
    fitted = estimator.fit_pooled(preps, model, train_config,
                                 state_path=folder / checkpoint.TRAIN_STATE if save else None, resume=resume,
                                 progress=progress)
    per_pair = fitted.windows.pop("pairs")
    members = {}
    for pair, prep in preps.items():
        val = prep.windows("val")
        point, y = estimator.point_forecast(fitted.net, val.x), val.y[:, :, 0]  # (N, H) scaled
        metrics = {"val_mse": float(np.mean((point - y) ** 2)), "val_mse_random_walk": float(np.mean(y**2)),
                   **_test_metrics(fitted, prep)}
        metrics["windows"] = {**per_pair[pair], "test": metrics.pop("test_windows")}
        members[pair] = {"source": specs[pair].__dict__, "scalers": fitted.scalers[pair],
                         "fingerprint": loaded[pair].fingerprint(), "metrics": metrics}
    metrics = {**_fit_metrics(fitted), "windows": {**fitted.windows,
                                                   "test": sum(m["metrics"]["windows"]["test"] for m in members.values())}}
    meta = {
        "name": name, "pairs": list(pairs), "members": members, "model_config": fitted.config.to_dict(),
        "data_config": data.to_dict(), "train_config": train_config.to_dict(), "metrics": metrics,
        "history": fitted.result.history, "calibration": fitted.calibration,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"), "device": str(resolve_device(train_config.device)),
    }
    if save and is_main_process():
        estimator.save(folder, fitted.net, meta)
    return TrainedModel(name=name, model=fitted.net, meta=meta, folder=folder, fit_result=fitted.result)


def load(name: str, models_dir=None, pair: Optional[str] = None) -> TrainedModel:
    """A saved model, ready to predict; with `pair`, as used on that pair (TrainedModel.for_pair: a
    global model's member, or an error naming the model's pairs). Raises ForecasterError on a
    missing, damaged or mismatched save."""
    folder = checkpoint.model_dir(name, models_dir)
    net, meta = estimator.load(folder)
    trained = TrainedModel(name=name, model=net, meta=meta, folder=folder)
    return trained if pair is None else trained.for_pair(pair)


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
        members = meta.get("members") or {meta.get("pair"): meta}  # a global model's pairs, or the one pair
        prints = [v["fingerprint"] for v in members.values()]
        rows.append({
            "name": folder.name, "pair": ",".join(map(str, members)), "pairs": list(members),
            "interval": next(iter(members.values()))["source"].get("interval"),
            "horizon": meta["data_config"]["horizon"], "lookback": meta["data_config"]["lookback"],
            "first": min(f["first"] for f in prints), "last": max(f["last"] for f in prints),
            "val_mse": m.get("val_mse"), "val_mse_random_walk": m.get("val_mse_random_walk"),
            "created": meta.get("created"),
        })
    return rows


def device_summary() -> dict:
    return {"torch": torch.__version__, "cuda": torch.cuda.is_available(),
            "devices": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
            "auto": str(resolve_device("auto"))}
