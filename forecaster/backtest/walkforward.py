"""The walk-forward (rolling-origin) loop: every model on the same origins, then statistics.

Test period: the origins t from `test_start` to the last bar whose H-step target exists. The
origins are cut into folds (forecaster.data.walk_forward_folds); before each fold every model is
fitted on a History ending at the bar before the fold's first origin (expanding: from the first
bar; sliding: the last `window` bars), then forecasts steps 1..H from every origin of the fold,
each from a History ending at that origin. retrain_every=K makes folds of K origins; K=0 fits
once before the test period; `folds=N` cuts the test period into N equal folds instead.

The trading simulation uses the step-`signal_step` forecast at every origin: sign (or a size
above `threshold`) gives the position held from bar t to t+1 (see trading.py). With `vol_target`
a second simulation sizes each position to that annualised volatility (trading.vol_target_positions)
from the model's own step-1 predictive spread, or for a point forecast from the EWMA volatility
(risk.EWMA, fitted before the test) known at the origin; it is reported beside the unit-size one.

Every model is a BacktestModel (forecaster.probabilistic.contract): one forecast() call per fold gives
the point, the intervals and, for a probabilistic model (the risk models, a Mamba model with a
distribution or quantile head), the forecast distribution of the fold's origins; the distribution
parts are joined after the loop and scored by scores.probabilistic_stats (CRPS, pinball, interval
scores, coverage overall and by terciles of the volatility known at the origin, VaR tests, PIT, DM
on CRPS of every model against every other). Online calibration (`calibration="aci"`): every
model's intervals are recalibrated origin by origin with adaptive conformal inference
(intervals.conformalize_bands; an outcome is used only once realised, so there is no look-ahead),
kept as a separate field and scored beside the intervals as issued.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from typing import Callable, Optional

import numpy as np
import pandas as pd

from forecaster.probabilistic import distributions as dist_mod
from forecaster.backtest import trading
from forecaster.evaluation import scores, stats
from forecaster.configs import BacktestConfig
from forecaster.data import PriceSeries, cumulative_returns, walk_forward_folds
from forecaster.data.calendar import bars_per_year
from forecaster.data.history import History, LookAheadError
from forecaster.errors import ForecasterError
from forecaster.probabilistic.contract import BacktestModel
from forecaster.probabilistic.intervals import OnlineConformalConfig, conformalize_bands, inside
from forecaster.probabilistic.risk import EWMA

@dataclass
class BacktestResult:
    pair: str
    config: BacktestConfig
    dates: pd.DatetimeIndex  # (T,) every bar of the data
    close: np.ndarray  # (T,)
    origins: np.ndarray  # (N,) origin rows
    fold: np.ndarray  # (N,) fold of each origin
    actual: np.ndarray  # (N, H) realised cumulative log returns
    forecasts: dict  # model -> (N, H)
    intervals: dict  # model -> {level: (lower (N, H), upper (N, H))}
    forecast_stats: dict  # model -> stats.forecast_stats(...)
    simulations: dict  # model (and buy_and_hold) -> trading.Simulation
    trading_stats: dict  # model (and buy_and_hold) -> trading.trading_stats(...)
    bars_per_year: float
    info: dict  # test period, folds, fit times, notes
    spa: dict = field(default_factory=dict)  # stats.spa_vs_random_walk: does some model beat the random walk?
    distributions: dict = field(default_factory=dict)  # model -> forecast distribution (N, H) (forecaster.probabilistic.distributions)
    prob_stats: dict = field(default_factory=dict)  # scores.probabilistic_stats of the distributions ({} if none)
    regime: Optional[np.ndarray] = None  # (N,) volatility known at each origin (scores.trailing_volatility)
    calibrated_intervals: dict = field(default_factory=dict)  # model -> {level: (lower, upper)} after online calibration
    calibration_stats: dict = field(default_factory=dict)  # model -> interval_stats before and after calibration
    vol_simulations: dict = field(default_factory=dict)  # model (and buy_and_hold) -> volatility-targeted Simulation
    vol_trading_stats: dict = field(default_factory=dict)  # ... and its trading_stats
    risk_simulations: dict = field(default_factory=dict)  # model with a distribution -> long position sized by it
    risk_sizing_stats: dict = field(default_factory=dict)  # ... trading.risk_sizing_stats (realised vs target vol)

    @property
    def models(self) -> list:
        return list(self.forecasts)


def test_start_row(dates: pd.DatetimeIndex, config: BacktestConfig) -> int:
    if config.test_start is not None:
        try:
            start = pd.Timestamp(config.test_start)
        except (ValueError, TypeError) as exc:
            raise ForecasterError(f"test_start={config.test_start!r} is not a date (YYYY-MM-DD)") from exc
    else:
        start = dates[-1] - pd.DateOffset(days=round(365.25 * config.test_years))
    return int(dates.searchsorted(start))


def _fold_step(n_origins: int, config: BacktestConfig) -> int:
    if config.folds:
        return max(1, math.ceil(n_origins / config.folds))
    return config.retrain_every or n_origins


def run_backtest(series: PriceSeries, models: list[BacktestModel], config: BacktestConfig, min_train: int = 100,
                 progress: Optional[Callable[[int, int, str], None]] = None,
                 context: Optional[dict] = None) -> BacktestResult:
    """Walk forward over the test period with every model.

    progress(done, total, what) is called after each model has fitted and forecast a fold. context:
    other pairs (name -> PriceSeries on the same dates) that every History also holds, for a model
    that reads them (a cross-pair model); the forecast pair and what is scored stay `series`."""
    names = [m.name for m in models]
    if len(set(names)) != len(names) or not names:
        raise ForecasterError(f"model names must be unique and non-empty, got {names}")
    if config.horizon is None:
        config = replace(config, horizon=models[0].horizon)
    if any(m.horizon != config.horizon for m in models):
        raise ForecasterError(f"every model must forecast {config.horizon} steps: "
                              + ", ".join(f"{m.name} {m.horizon}" for m in models))
    frame = series.frame
    dates, close = frame.index, frame["close"].to_numpy(dtype=np.float64)
    n, H = len(close), config.horizon
    log_close = np.log(close)
    start = test_start_row(dates, config)
    if start < min_train:
        raise ForecasterError(f"{series.pair}: only {start} bars before the test period; at least {min_train} are needed "
                              f"for training: shorten the test period")
    if start > n - 1 - H - 1:
        latest = dates[max(n - 2 - H, 0)].date()  # the last start that leaves 2 origins with an H-step target
        if config.test_start is not None:
            raise ForecasterError(f"{series.pair}: --test-start {pd.Timestamp(config.test_start).date()} leaves fewer "
                                  f"than 2 origins with a {H}-step target: the data ends on {dates[-1].date()}; "
                                  f"give a test start on or before {latest}")
        raise ForecasterError(f"{series.pair}: the test period starting {dates[min(start, n - 1)].date()} holds "
                              f"fewer than 2 origins with a {H}-step target (the data ends on {dates[-1].date()}): "
                              f"give a test start on or before {latest}")
    panel = {series.pair: series, **(context or {})}
    History(panel, 0)  # the pairs must share the dates: said here, before any fit
    n_origins = n - 1 - H - start + 1
    folds = walk_forward_folds(n, initial_train=start, step=_fold_step(n_origins, config), horizon=H,
                               mode=config.mode, window=config.window)
    for fold in folds:  # cheap checks first: a model that cannot fit says so before any long training
        for model in (m for m in models if hasattr(m, "check")):
            model.check(History(panel, fold.train.stop - 1, start=fold.train.start))
    origins = np.arange(start, n - H)  # (N,)
    preds = {m.name: np.full((len(origins), H), np.nan) for m in models}
    bands: dict = {m.name: {} for m in models}
    fold_of = np.zeros(len(origins), dtype=int)
    fit_seconds = {m.name: 0.0 for m in models}
    dist_parts: dict = {}  # model -> [distribution of each fold's origins]
    done, total = 0, len(folds) * len(models)
    for fold in folds:
        cutoff = fold.train.stop - 1
        train_history = History(panel, cutoff, start=fold.train.start)
        rows = np.arange(fold.test.start, fold.test.stop)
        idx = rows - start
        fold_of[idx] = fold.index
        histories = [History(panel, int(t)) for t in rows]
        for model in models:
            began = time.perf_counter()
            _guarded(model, "fit", lambda: model.fit(train_history), cutoff, dates)
            fit_seconds[model.name] += time.perf_counter() - began
            done += 1
            out = _guarded(model, "predict", lambda: model.forecast(histories), int(rows[0]), dates)
            out.check(len(rows), H, model.name)
            preds[model.name][idx] = out.point
            for level, (lo, hi) in out.bands.items():
                if level not in bands[model.name]:
                    bands[model.name][level] = (np.full((len(origins), H), np.nan), np.full((len(origins), H), np.nan))
                bands[model.name][level][0][idx], bands[model.name][level][1][idx] = lo, hi
            if out.distribution is not None:
                dist_parts.setdefault(model.name, []).append(out.distribution)
            if progress:
                progress(done, total, f"fold {fold.index + 1}/{len(folds)} {model.name}")

    actual = cumulative_returns(log_close, origins, H)  # (N, H)
    scales = np.array([stats.mase_scale(log_close[:start], h) for h in range(1, H + 1)])
    fstats = {name: stats.forecast_stats(preds[name], actual, close[origins], scales, bands[name] or None)
              for name in preds}
    spa = stats.spa_vs_random_walk(preds, actual, close[origins])

    dists = {name: dist_mod.concat(parts) for name, parts in dist_parts.items() if len(parts) == len(folds)}
    regime = scores.trailing_volatility(log_close, origins)  # (N,)
    prob = scores.probabilistic_stats(dists, actual, regime=regime) if dists else {}
    calibrated = {}
    if config.calibration == "aci":
        online = OnlineConformalConfig(method="aci", gamma=config.aci_gamma)
        calibrated = {name: conformalize_bands(b, actual, online, origins=origins) for name, b in bands.items() if b}
    cal_stats = {name: {"issued": interval_stats(b, actual, regime),
                        **({"aci": interval_stats(calibrated[name], actual, regime)} if name in calibrated else {})}
                 for name, b in bands.items() if b}

    per_year = bars_per_year(dates)
    path = close[origins[0] : origins[-1] + 2]  # (N+1,) closes at the origins and the bar after the last
    sig = {name: trading.signals(preds[name][:, config.signal_step - 1], config.threshold) for name in preds}
    sims = {name: trading.simulate(sig[name], path, config.costs) for name in preds}
    sims["buy_and_hold"] = trading.simulate(np.ones(len(origins)), path, config.costs)
    tstats = {name: trading.trading_stats(sim, per_year) for name, sim in sims.items()}
    risk_sims, risk_stats = {}, {}  # a long position sized by each forecast distribution's step-1 std
    for name, dist in dists.items():
        q = trading.vol_target_positions(np.ones(len(origins)), trading.predictive_sigma(dist)[:, 0],
                                         config.risk_target, per_year, config.vol_cap)
        risk_sims[name] = trading.simulate(q, path, config.costs)
        risk_stats[name] = trading.risk_sizing_stats(risk_sims[name], per_year, config.risk_target, regime)
    vol_sims, vol_stats, vol_source = {}, {}, {}
    if config.vol_target is not None:
        ewma_sigma = _ewma_sigma(series, origins, start)  # (N,) step-1 volatility known at each origin
        sig["buy_and_hold"] = np.ones(len(origins))
        for name, signal in sig.items():
            sigma = trading.predictive_sigma(dists[name])[:, 0] if name in dists else ewma_sigma
            vol_source[name] = "own step-1 predictive std" if name in dists else "EWMA (0.94) std"
            q = trading.vol_target_positions(signal, sigma, config.vol_target, per_year, config.vol_cap)
            vol_sims[name] = trading.simulate(q, path, config.costs)
            vol_stats[name] = trading.trading_stats(vol_sims[name], per_year)
    info = {
        "pair": series.pair, "source": series.source, "interval": series.interval,
        "data_first": dates[0].isoformat(), "data_last": dates[-1].isoformat(), "rows": n,
        "test_first_origin": dates[origins[0]].isoformat(), "test_last_origin": dates[origins[-1]].isoformat(),
        "origins": int(len(origins)), "folds": len(folds), "fit_seconds": fit_seconds,
        "bars_per_year": per_year,
        "fit_log": {m.name: m.fit_log for m in models if m.fit_log},
        "model_settings": {m.name: m.settings() for m in models if m.settings() is not None},
        "distributions": {name: type(d).__name__ for name, d in dists.items()},
        "calibration": config.calibration, "vol_target_sigma": vol_source,
        "notes": [trading.SWAP_NOTE,
                  "fills cross half the spread plus slippage at the signal bar's close (never the mid); "
                  "a round trip pays one full spread",
                  "DM p-values are one-sided (H1: the model is more accurate than the random walk; the verdicts "
                  "also test H1: less accurate); PT p-values one-sided (H1: the forecast signs are informative), "
                  "Hansen-Hodrick over h-1 lags at step h > 1 and over H-1 lags overall (Student-t critical values); DM: the larger of an equal-weighted cosine (EWC) and a truncated long-run variance; SPA p-value: does any model "
                  "beat the random walk, corrected for trying them all (Hansen 2005; White's Reality Check)",
                  "probabilistic scores: the forecast distributions as the models give them (no recalibration); "
                  "the intervals after online calibration (ACI, Gibbs & Candes 2021) are scored separately",
                  "volatility terciles: the root mean square of the 20 daily returns up to each origin (known then)"],
    }
    return BacktestResult(pair=series.pair, config=config, dates=dates, close=close, origins=origins, fold=fold_of,
                          actual=actual, forecasts=preds, intervals=bands, forecast_stats=fstats, simulations=sims,
                          trading_stats=tstats, bars_per_year=per_year, info=info, spa=spa, distributions=dists,
                          prob_stats=prob, regime=regime, calibrated_intervals=calibrated, calibration_stats=cal_stats,
                          vol_simulations=vol_sims, vol_trading_stats=vol_stats, risk_simulations=risk_sims,
                          risk_sizing_stats=risk_stats)


def interval_stats(bands: dict, actual: np.ndarray, regime: np.ndarray) -> dict:
    """{level: coverage, width, interval score (overall) and coverage per volatility tercile} of a
    model's intervals {level: (lower (N, H), upper (N, H))} against actual (N, H)."""
    out = {}
    for level, (lo, hi) in bands.items():
        ins = inside(actual, lo, hi)  # (N, H)
        out[str(level)] = {"coverage": float(ins.mean()), "coverage_step1": float(ins[:, 0].mean()),
                           "width": float(np.mean(hi - lo)),
                           "interval_score": float(scores.interval_score(actual, lo, hi, float(level)).mean()),
                           "by_volatility": scores.coverage_by_regime(ins, regime)}
    return out


def _ewma_sigma(series: PriceSeries, origins: np.ndarray, start: int) -> np.ndarray:
    """(N,) the RiskMetrics EWMA one-step volatility at each origin, started on the rows before the test."""
    ewma = EWMA(1)
    ewma.fit(History(series, start - 1))
    return ewma.distribution([History(series, int(t)) for t in origins]).scale[:, 0]


def _guarded(model, what: str, call, cutoff: int, dates: pd.DatetimeIndex):
    """Run a model call; a read past the cutoff surfaces as a LookAheadError naming the model."""
    try:
        return call()
    except LookAheadError as exc:
        raise LookAheadError(f"model {model.name} ({what} at {dates[cutoff].date()}): {exc}") from exc
