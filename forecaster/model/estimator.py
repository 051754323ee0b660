"""The estimator: how a Mamba forecaster is built, trained, gated, calibrated, saved and loaded.

Every caller that needs a trained model goes through this module: `api.train` and `api.load`
(the CLI's train, predict and models), the backtest's Mamba model (`backtest/neural.py`), the
demo, and the Exchange-Rate benchmark (`benchmarks/exchange.py`). Nothing else builds or fits one.
It is stateless: fitting returns a TrainedModel (forecaster.model.trained), which forecasts.

    ModelConfig --build--> MambaForecaster --fit (trainer.fit: the one trainer)--> best weights on validation
        --location gate, calibrate (split-conformal on the validation windows)--> TrainedModel
        --save / load--> models/<name>/

fit_prepared trains on one pair; fit_pooled on several (a global model: each pair scaled by its own
scalers, the windows of all pairs pooled); both share _fit_windows.

Targets are scaled changes from the last observed value, so the untrained model (zero output)
is the no-change forecast and the trainer's check 0 is the random walk.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from forecaster.probabilistic import intervals
from forecaster.configs import DataConfig, ModelConfig, TrainConfig
from forecaster.data import Prepared, WindowSet
from forecaster.errors import ForecasterError
from forecaster.evaluation.verdicts import point_vs_random_walk
from forecaster.mamba import ForecasterConfig, MambaConfig, MambaForecaster
from forecaster.model.inference import forecast, quantile_view, raw_forecast
from forecaster.model.device import seed_everything
from forecaster.model.trained import TrainedModel
from forecaster.model.trainer import FitResult, fit as train_loop


def network_config(model: ModelConfig, n_inputs: int, n_outputs: int, horizon: int) -> ForecasterConfig:
    """The library's ForecasterConfig of `model` for inputs of n_inputs features and n_outputs series."""
    mamba = MambaConfig(d_model=model.d_model, n_layer=model.n_layer, d_state=model.d_state)
    try:
        return ForecasterConfig(mamba=mamba, n_inputs=n_inputs, n_outputs=n_outputs, horizon=horizon,
                                quantiles=model.quantiles, distribution=model.distribution, df=model.df,
                                revin=model.revin)
    except ValueError as exc:  # the library's message names the field and what it accepts
        raise ForecasterError(str(exc)) from exc


def build(config: ForecasterConfig) -> MambaForecaster:
    """An untrained forecaster (its output layer starts at zero: the no-change forecast)."""
    return MambaForecaster(config)


def fit(model: ModelConfig, train_cfg: TrainConfig, train_set, val_set, *, n_inputs: int, n_outputs: int,
        horizon: int, state_path: Optional[Path] = None, resume: bool = False,
        progress: bool = True,
        on_check: Optional[Callable[[MambaForecaster, dict], None]] = None) -> tuple[MambaForecaster, FitResult]:
    """Build a forecaster (initialised from train_cfg.seed) and train it with the one trainer on
    (x (N, L, C_in), y (N, H, C_out)) windows. Returns the model (best validation weights, on the
    CPU, in eval mode) and the trainer's record. on_check(net, row), if given, is called after each
    validation check but check 0 (net on the training device, in train mode: leave it so)."""
    config = network_config(model, n_inputs, n_outputs, horizon)
    seed_everything(train_cfg.seed)
    net = build(config)
    hook = {} if on_check is None else {"on_check": lambda row: on_check(net, row)}
    result = train_loop(net, train_set, val_set, train_cfg, config.quantiles, state_path=state_path,
                        resume=resume, progress=progress, distribution=config.distribution, **hook)
    return net.cpu().eval(), result


def fit_prepared(prep: Prepared, model: ModelConfig, train_cfg: TrainConfig, state_path: Optional[Path] = None,
                 resume: bool = False, progress: bool = True) -> TrainedModel:
    """Train on a prepared series' training windows, stop early and calibrate on its validation windows."""
    return _fit_windows(prep.windows("train"), prep.windows("val"), prep.n_features, prep.config, model,
                        train_cfg, state_path, resume, progress, scalers=prep.fitted())


def fit_pooled(preps: dict[str, Prepared], model: ModelConfig, train_cfg: TrainConfig,
               state_path: Optional[Path] = None, resume: bool = False, progress: bool = True) -> TrainedModel:
    """One model for several pairs (a global model): each pair prepared with its own scalers
    (fitted on its own training rows), the training windows of all pairs pooled and shuffled
    together, early stopping, the location gate and the interval calibration on the pooled
    validation windows. Every pair must share the DataConfig and the features; the splits are
    each pair's own. The result's scalers map pair -> scalers, its windows["pairs"] pair -> counts."""
    if len(preps) < 2:
        raise ForecasterError(f"a pooled model needs two pairs or more, got {list(preps) or 'none'}")
    first_pair, first = next(iter(preps.items()))
    for pair, prep in preps.items():
        if prep.config != first.config:
            raise ForecasterError(f"{pair}'s data configuration differs from {first_pair}'s: pooled pairs share one")
        if prep.feature_names != first.feature_names:
            raise ForecasterError(f"{pair} gives features {prep.feature_names}, {first_pair} {first.feature_names}: "
                                  "pooled pairs must give the same features")
    train = {pair: prep.windows("train") for pair, prep in preps.items()}
    val = {pair: prep.windows("val") for pair, prep in preps.items()}
    empty = [pair for pair, w in val.items() if len(w) == 0]
    if empty:
        raise ForecasterError(f"the validation split of {', '.join(empty)} holds no windows: use more data or a "
                              "smaller horizon")
    fitted = _fit_windows(pool_windows(list(train.values())), pool_windows(list(val.values())), first.n_features,
                          first.config, model, train_cfg, state_path, resume, progress,
                          scalers={pair: prep.fitted() for pair, prep in preps.items()})
    fitted.windows["pairs"] = {pair: {"train": len(train[pair]), "val": len(val[pair])} for pair in preps}
    return fitted


def pool_windows(sets: list[WindowSet]) -> WindowSet:
    """Several pairs' windows as one set (x (sum N, L, C_in), y (sum N, H, 1)), in the order given;
    the trainer shuffles them together. origin and rows keep each pair's own dates and rows."""
    return WindowSet(x=np.concatenate([w.x for w in sets]), y=np.concatenate([w.y for w in sets]),
                     origin=sets[0].origin.append([w.origin for w in sets[1:]]),
                     last_close=np.concatenate([w.last_close for w in sets]),
                     rows=np.concatenate([w.rows for w in sets]))


def _fit_windows(train: WindowSet, val: WindowSet, n_inputs: int, data: DataConfig, model: ModelConfig,
                 train_cfg: TrainConfig, state_path: Optional[Path], resume: bool, progress: bool,
                 scalers: dict) -> TrainedModel:
    """The shared body of fit_prepared and fit_pooled: train, gate, calibrate."""
    if len(val) == 0:
        raise ForecasterError("the validation split holds no windows: use more data or a smaller horizon")
    began = time.perf_counter()
    net, result = fit(model, train_cfg, train.dataset(), val.dataset(), n_inputs=n_inputs, n_outputs=1,
                      horizon=data.horizon, state_path=state_path, resume=resume, progress=progress)
    gate = location_gate(net, val, train_cfg.gate)
    seconds = time.perf_counter() - began
    calibration = calibrate(net, val)
    meta = {"data_config": data.to_dict(), "model_config": net.forecaster_config.to_dict(), "scalers": scalers,
            "calibration": calibration}
    return TrainedModel(net=net, meta=meta, fit_result=result, gate=gate,
                        windows={"train": len(train), "val": len(val)}, seconds=seconds)


def location_gate(net: MambaForecaster, val: WindowSet, alpha: float) -> dict:
    """Keep the trained location only when it beats the no-change forecast on the validation
    windows with a one-sided DM p < alpha (squared error averaged over the H steps per window,
    evaluation.stats.diebold_mariano, robust to the overlap of the windows); otherwise reset it to no change (the scale of a
    distribution head is kept). Returns the test and the decision ("model" or "no-change")."""
    y = val.y[:, :, 0].astype(np.float64)  # (N, H) scaled
    point = forecast(net, val.x, {}).point  # (N, H) scaled
    test = point_vs_random_walk(point, y, "validation", alpha=min(alpha, 0.49))
    mse, random_walk = test.pop("mse"), test.pop("mse_random_walk")
    kept = "model" if alpha >= 1 or test["dm_p_better"] < alpha else "no-change"
    if kept == "no-change":
        net.reset_location()
    return {**test, "alpha": alpha, "kept": kept, "val_mse": mse if kept == "model" else random_walk,
            "val_mse_random_walk": random_walk}


def calibrate(net: MambaForecaster, val: WindowSet) -> dict:
    """Split-conformal interval widths per level and step from the validation windows
    (conformalised quantiles for quantile and parametric heads, residuals for a point forecast)."""
    pred, quantiles = quantile_view(net, raw_forecast(net, val.x))  # (N, H[, Q]) scaled
    return intervals.calibrate(pred, val.y[:, :, 0], quantiles)
