"""The Python API, mirrored by the CLI: train, load, predict, backtest, list.

    from forecaster import api
    model = api.train("EURUSD", name="eurusd")        # offline ECB data by default
    forecast = model.predict()                        # next H bars, with 80% and 95% intervals
    model = api.load("eurusd")
    result = api.backtest("EURUSD", model="eurusd", config=BacktestConfig(test_start="auto"))

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
from dataclasses import replace
from pathlib import Path
from typing import Callable, Mapping, Optional, Sequence, Union

import torch

from forecaster.backtest.walkforward import BacktestResult
from forecaster.configs import ANCHORED, DESIGNS, AnchoredConfig, BacktestConfig, ModelConfig, TrainConfig, refuse_other_design
from forecaster.data import DataConfig, PriceSeries, expand_pairs, load_series, pip_size, prepare
from forecaster.data.sources import SourceSpec
from forecaster.errors import ForecasterError
from forecaster.evaluation.verdicts import point_vs_random_walk
from forecaster.model import checkpoint, estimator
from forecaster.model.device import is_main_process, resolve_device
from forecaster.model.forecast import Forecast  # noqa: F401  (api.Forecast: what predict returns)
from forecaster.model.inference import forecast
from forecaster.model.trained import TrainedModel, load_trained
from forecaster.probabilistic import intervals


def train(
    pair: Union[str, Sequence[str]] = "EURUSD", *, name: Optional[str] = None, source: str = "ecb",
    interval: str = "1d", start: Optional[str] = None, end: Optional[str] = None, path: Optional[str] = None,
    column: Optional[str] = None, csv_series: Optional[str] = None, cache_dir=None,
    offline: bool = False, data: Optional[DataConfig] = None, model: Optional[ModelConfig] = None,
    train_config: Optional[TrainConfig] = None, models_dir=None, resume: bool = False, save: bool = True,
    progress: bool = True, series: Union[PriceSeries, Mapping[str, PriceSeries], None] = None,
    design: str = DESIGNS[0], anchored: Optional[AnchoredConfig] = None, cross_pairs=None,
) -> TrainedModel:
    """Train a Mamba forecaster on a pair (through forecaster.model.estimator), score it beside the random
    walk on the validation and test splits, and save it under models_dir/name (rank 0 only under
    torch.distributed).

    pair: one pair, or several ("EURUSD,USDJPY", a list, or a named set such as "majors"): then ONE
    global model is trained on all of them (estimator.fit_pooled), each pair with its own scalers,
    and scored per pair. series: the data itself instead of loading it (a mapping pair -> series
    for a global model).

    design: "anchored" (the default: the anchored sequence model, forecaster.model.anchored, with
    `anchored`, its horizon data's: fitted on the rows before the test split of data.split and scored
    by CRPS beside EWMA and GARCH-t on validation and test; one pair, no covariates; data's other
    fields do not apply to it) or "windowed" (the window model above, with model and train_config;
    several pairs, covariates and resume need it). Options of the other design are an error.
    cross_pairs (anchored): the cross-pair model of `pair`, which also reads these pairs' volatility
    (from the same source, on the dates all share; predict loads them again)."""
    data = data or DataConfig()
    pairs = list(series) if isinstance(series, Mapping) else (expand_pairs(pair) if _several(pair) else None)
    refuse_other_design(design, windowed={"several pairs": (pairs is not None and len(pairs) > 1, False),
                                          "covariates": (data.covariates, ()), "resume": (resume, False),
                                          "model": (model, None), "train_config": (train_config, None)},
                        anchored={"anchored": (anchored, None), "cross_pairs": (cross_pairs, None)})
    model = model or ModelConfig()
    train_config = train_config or TrainConfig()
    if name is not None:
        checkpoint.model_dir(name, models_dir)  # a bad name fails before any data is loaded
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
    name = checkpoint.default_model_name(series.pair, series.interval) if name is None else name
    folder = checkpoint.model_dir(name, models_dir)
    if design == ANCHORED:
        context = None
        if cross_pairs:
            series, context = _with_context(series, cross_pairs, lambda q: spec.load(cache_dir, offline, pair=q))
            anchored = replace(anchored or AnchoredConfig(), cross_pairs=True)
        return _train_anchored(series, spec, name, folder, data, anchored, save, progress, context)
    covariates = [spec.load(cache_dir, offline, pair=c) for c in data.covariates]
    prep = prepare(series, data, covariates)
    trained = estimator.fit_prepared(prep, model, train_config,
                                     state_path=folder / checkpoint.TRAIN_STATE if save else None, resume=resume,
                                     progress=progress)
    result = trained.fit_result
    metrics = {**_fit_metrics(trained), "windows": {**trained.windows, "test": 0}}
    metrics.update(_test_metrics(trained, prep))
    metrics["windows"]["test"] = metrics.pop("test_windows")
    trained.meta = {
        "name": name, "pair": series.pair, "source": spec.__dict__, "model_config": trained.config.to_dict(),
        "data_config": data.to_dict(), "train_config": train_config.to_dict(), "scalers": trained.scalers,
        "fingerprint": series.fingerprint(), "metrics": metrics, "history": result.history,
        "calibration": trained.calibration, "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "device": str(resolve_device(train_config.device)),
    }
    trained.name, trained.folder = name, folder
    if save and is_main_process():
        trained.save(folder)
    return trained


def _train_anchored(series: PriceSeries, spec: SourceSpec, name: str, folder: Path, data: DataConfig,
                    anchored: Optional[AnchoredConfig], save: bool, progress: bool,
                    context: Optional[dict] = None) -> TrainedModel:
    """api.train with design "anchored" (forecaster.model.anchored_trained.train_anchored)."""
    from forecaster.model.anchored_trained import train_anchored

    cfg = replace(anchored or AnchoredConfig(), horizon=data.horizon)
    trained = train_anchored(series, cfg, data.split, progress=progress, context=context)
    trained.meta = {"name": name, "pair": series.pair, "source": spec.__dict__, **trained.meta,
                    "data_config": replace(data, horizon=cfg.horizon).to_dict(), "fingerprint": series.fingerprint(),
                    "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
    trained.name, trained.folder = name, folder
    if save and is_main_process():
        trained.save(folder)
    return trained


def _several(pair) -> bool:
    """Whether `pair` names more than one pair's worth of text: a list, commas, or a named set."""
    from forecaster.configs import PAIR_SETS

    return not isinstance(pair, str) or "," in pair or pair.strip().lower() in PAIR_SETS


def _fit_metrics(fitted: TrainedModel) -> dict:
    """What training itself says: the validation MSE beside the random walk's, the gate, epochs, time."""
    result = fitted.fit_result
    return {"val_mse": fitted.gate["val_mse"], "val_mse_random_walk": fitted.gate["val_mse_random_walk"],
            "best_epoch": result.best_epoch, "epochs_run": result.history[-1]["epoch"],
            "train_seconds": fitted.seconds, "gate": fitted.gate}


def _test_metrics(fitted: TrainedModel, prep) -> dict:
    """The test split of one pair: MSE beside the random walk's, the verdict (DM test), interval coverage.
    {"test_windows": 0} when the split holds no window."""
    test = prep.windows("test")
    if not len(test):
        return {"test_windows": 0}
    out = forecast(fitted.net, test.x, fitted.calibration)  # scaled units: (N, H), {level: (N, H) pairs}
    point, bands = out.point, out.bands
    y = test.y[:, :, 0]
    verdict = point_vs_random_walk(point, y, "test")
    return {
        "test_windows": len(test), "test_mse": verdict.pop("mse"), "test_mse_random_walk": verdict.pop("mse_random_walk"),
        "test_verdict": verdict,
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
        val_verdict = point_vs_random_walk(forecast(fitted.net, val.x, {}).point, val.y[:, :, 0], "validation")
        metrics = {"val_mse": val_verdict["mse"], "val_mse_random_walk": val_verdict["mse_random_walk"],
                   **_test_metrics(fitted, prep)}
        metrics["windows"] = {**per_pair[pair], "test": metrics.pop("test_windows")}
        members[pair] = {"source": specs[pair].__dict__, "scalers": fitted.scalers[pair],
                         "fingerprint": loaded[pair].fingerprint(), "metrics": metrics}
    metrics = {**_fit_metrics(fitted), "windows": {**fitted.windows,
                                                   "test": sum(m["metrics"]["windows"]["test"] for m in members.values())}}
    fitted.meta = {
        "name": name, "pairs": list(pairs), "members": members, "model_config": fitted.config.to_dict(),
        "data_config": data.to_dict(), "train_config": train_config.to_dict(), "metrics": metrics,
        "history": fitted.fit_result.history, "calibration": fitted.calibration,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"), "device": str(resolve_device(train_config.device)),
    }
    fitted.name, fitted.folder = name, folder
    if save and is_main_process():
        fitted.save(folder)
    return fitted


load = load_trained  # a saved model by name (forecaster.model.trained.load_trained)


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
            **({"design": ANCHORED, "lookback": None, "val_crps": m["validation"]["crps"]} if meta.get("design") == ANCHORED else {}),
        })
    return rows


def device_summary() -> dict:
    return {"torch": torch.__version__, "cuda": torch.cuda.is_available(),
            "devices": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
            "auto": str(resolve_device("auto"))}


def backtest(pair: str = "EURUSD", config: Optional[BacktestConfig] = None, *,
             model: Union[str, TrainedModel, None] = None, models_dir=None, series: Optional[PriceSeries] = None,
             source: Optional[str] = None, interval: Optional[str] = None, path: Optional[str] = None,
             column: Optional[str] = None, csv_series: Optional[str] = None, start: Optional[str] = None,
             end: Optional[str] = None, data: Optional[DataConfig] = None, net: Optional[ModelConfig] = None,
             train_config: Optional[TrainConfig] = None, mamba: bool = True, risk: bool = True,
             horizon: Optional[int] = None, lookback: Optional[int] = None,
             progress: Optional[Callable[[int, int, str], None]] = None,
             note: Callable[[str], None] = lambda line: None, design: str = DESIGNS[0],
             anchored: Optional[AnchoredConfig] = None, cross_pairs=None) -> BacktestResult:
    """Walk-forward backtest of a Mamba model beside the baselines and the risk models (backtest.lineup).

    model: a saved model's name (or a TrainedModel) backtested as it is, on its own source unless
    source/path/... point at newer data of the same series; otherwise a Mamba model is trained in the
    folds: design "anchored" (the default, with `anchored`: "mamba" the combination with GARCH-t,
    "mamba_raw" the anchored ensemble beside it) or "windowed" (with data, net, train_config and
    lookback; options of the other design are an error); mamba=False: baselines only. cross_pairs (pairs
    or a named set, e.g. "majors"): the anchored model is the cross-pair one, whose inputs also hold
    these pairs' volatility (loaded from the same source; every pair on the dates all share). config: the walk-forward
    (BacktestConfig(); its horizon becomes the model's, its costs' pip the pair's; test_start
    "auto" is the first date a saved model has not seen). note(line) hears what a person should know
    (the data used, substitute data, the auto test start)."""
    from forecaster.backtest import run_backtest
    from forecaster.backtest.lineup import lineup

    config = config or BacktestConfig()
    if model is not None and (config.retrain_every or config.folds):
        raise ForecasterError("--model backtests a saved model as it is; --retrain-every/--folds train inside the "
                              "folds: give one or the other")
    if model is not None and not mamba:
        raise ForecasterError("--model and --baselines-only contradict each other: give one")
    auto_start = config.test_start is not None and config.test_start.strip().lower() == "auto"
    if auto_start and model is None:
        raise ForecasterError("--test-start auto takes the first date a saved model has not seen: give --model NAME "
                              "too, or a date (YYYY-MM-DD)")
    if cross_pairs and (model is not None or not mamba):
        raise ForecasterError("--cross-pairs trains the anchored cross-pair model in the folds: drop --model (a saved "
                              "cross-pair model reads its own pairs) and --baselines-only, or drop --cross-pairs")
    if model is None and mamba:  # trained in the folds: options of the other design are an error
        refuse_other_design(design, windowed={"data": (data, None), "net": (net, None),
                                              "train_config": (train_config, None), "lookback": (lookback, None)},
                            anchored={"anchored": (anchored, None), "cross_pairs": (cross_pairs, None)})
    data = data or DataConfig()
    estimator.network_config(net or ModelConfig(), len(data.features), 1, 1)  # a bad distribution fails now
    trained = None
    if model is not None:
        # a missing model, or a pair it was not trained on, fails before any data is loaded; a global
        # model gives the pair's member (its source, scalers and splits)
        trained = (load(model, models_dir, pair=pair) if isinstance(model, str) else model.for_pair(pair))
        if series is None:
            series, _ = trained.load_series(source=source, interval=interval, path=path, column=column,
                                            series=csv_series, start=start, end=end)
            for line in trained.notes:
                note(f"note: {line}")
    elif series is None:
        series = load_series(pair, source=source or "ecb", interval=interval or "1d", start=start, end=end, path=path,
                             column=column, series=csv_series)
    note(f"data: {series.description}")
    context = None
    if cross_pairs:
        series, context = _with_context(series, cross_pairs, lambda q: load_series(
            q, source=source or "ecb", interval=interval or "1d", start=start, end=end), note)
        anchored = replace(anchored or AnchoredConfig(), cross_pairs=True)
    elif trained is not None:  # a saved cross-pair model reads its own pairs beside the series
        series, context = _split_context(trained.panel(series), series, note)
    models = lineup(series, saved=trained, mamba=mamba, horizon=horizon, lookback=lookback, data=data, model=net,
                    train=train_config, risk=risk, design=design, anchored=anchored)
    test_start = config.test_start
    if auto_start:
        first = next((m.first_test_start for m in models if m.saved), None)
        if first is None:
            raise ForecasterError(f"model {trained.name!r} has seen all of this data ({series.frame.index[-1].date()} "
                                  "is its last bar): backtest it on newer data (--path) or retrain it with --end")
        test_start = str(first.date())
        note(f"--test-start auto: {test_start}, the first bar model {trained.name!r} has not seen")
    config = replace(config, horizon=models[0].horizon, test_start=test_start,
                     costs=replace(config.costs, pip=pip_size(series.pair)))
    note(f"{series.pair}: {len(series.frame)} bars {series.frame.index[0].date()}..{series.frame.index[-1].date()} "
         f"({series.source}); models: {', '.join(m.name for m in models)}")
    return run_backtest(series, models, config, progress=progress, context=context)


def _with_context(series: PriceSeries, pairs, load: Callable[[str], PriceSeries],
                  note: Callable[[str], None] = lambda line: None) -> tuple[PriceSeries, dict]:
    """The series and the context pairs (pair -> PriceSeries, each load(pair)), all on the dates every one has."""
    from forecaster.data.history import on_common_dates

    others = [q for q in expand_pairs(pairs) if q != series.pair]
    if not others:
        raise ForecasterError(f"--cross-pairs {pairs!r} names no pair other than {series.pair}: give the pairs whose "
                              "volatility the model should read, e.g. --cross-pairs majors")
    return _split_context(on_common_dates({series.pair: series, **{q: load(q) for q in others}}), series, note)


def _split_context(panel: dict, series: PriceSeries, note: Callable[[str], None]) -> tuple[PriceSeries, Optional[dict]]:
    """The panel (pair -> series on common dates, `series`' pair among them) as the forecast pair's
    series and its context (None when there is none), said in a note."""
    mine = panel[series.pair]
    context = {q: s for q, s in panel.items() if q != series.pair}
    if context:
        dropped = len(series.frame) - len(mine.frame)
        note(f"cross-pair context: {', '.join(context)} ({len(mine.frame)} common dates"
             + (f"; {dropped} of {series.pair}'s bars without them left out)" if dropped else ")"))
    return mine, context or None
