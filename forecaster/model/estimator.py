"""How a Mamba forecaster is built, trained, calibrated, saved and loaded: the one path.

Every caller that needs a trained model goes through this module: `api.train` and `api.load`
(the CLI's train, predict and models), the backtest's Mamba model (`backtest/neural.py`), the
demo, and the Exchange-Rate benchmark (`exchange.py`). Nothing else builds or fits one.

    ModelConfig --build--> MambaForecaster --fit (training.fit: the one trainer)--> best weights on validation
        --calibrate (split-conformal on the validation windows)--> Fitted --save / load--> models/<name>/

fit_prepared trains on one pair; fit_pooled on several (a global model: each pair scaled by its own
scalers, the windows of all pairs pooled); both share _fit_windows.

Targets are scaled changes from the last observed value, so the untrained model (zero output)
is the no-change forecast and the trainer's check 0 is the random walk.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from forecaster.model import checkpoint
from forecaster.probabilistic import intervals
from forecaster.configs import ModelConfig, TrainConfig
from forecaster.data import Prepared, WindowSet
from forecaster.errors import ForecasterError
from forecaster.mamba import ForecasterConfig, MambaForecaster
from forecaster.model.forecast import forecast_windows
from forecaster.model.trainer import FitResult, fit as train_loop, seed_everything


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
    config = model.forecaster_config(n_inputs, n_outputs, horizon)
    seed_everything(train_cfg.seed)
    net = build(config)
    hook = {} if on_check is None else {"on_check": lambda row: on_check(net, row)}
    result = train_loop(net, train_set, val_set, train_cfg, config.quantiles, state_path=state_path,
                        resume=resume, progress=progress, distribution=config.distribution, **hook)
    return net.cpu().eval(), result


@dataclass
class Fitted:
    """A trained forecaster with everything needed to use it on new data."""

    net: MambaForecaster
    config: ForecasterConfig
    scalers: dict  # the data's scalers, fitted on the training rows (forecaster.data.Prepared.fitted);
    # a pooled model's: pair -> that pair's scalers
    calibration: dict  # split-conformal interval widths per level, from the validation windows
    result: FitResult = field(repr=False)
    gate: dict = field(default_factory=dict)  # the validation test that kept or reset the trained location
    windows: dict = field(default_factory=dict)  # split -> number of windows (pooled: also "pairs": pair -> split -> n)
    seconds: float = 0.0

    @property
    def quantiles(self) -> tuple:
        return self.config.quantiles


def fit_prepared(prep: Prepared, model: ModelConfig, train_cfg: TrainConfig, state_path: Optional[Path] = None,
                 resume: bool = False, progress: bool = True) -> Fitted:
    """Train on a prepared series' training windows, stop early and calibrate on its validation windows."""
    fitted = _fit_windows(prep.windows("train"), prep.windows("val"), prep.n_features, prep.config.horizon, model,
                          train_cfg, state_path, resume, progress)
    fitted.scalers = prep.fitted()
    return fitted


def fit_pooled(preps: dict[str, Prepared], model: ModelConfig, train_cfg: TrainConfig,
               state_path: Optional[Path] = None, resume: bool = False, progress: bool = True) -> Fitted:
    """One model for several pairs (a global model): each pair prepared with its own scalers
    (fitted on its own training rows), the training windows of all pairs pooled and shuffled
    together, early stopping, the location gate and the interval calibration on the pooled
    validation windows. Every pair must share the DataConfig and the features; the splits are
    each pair's own. Fitted.scalers maps pair -> scalers, Fitted.windows["pairs"] pair -> counts."""
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
                          first.config.horizon, model, train_cfg, state_path, resume, progress)
    fitted.scalers = {pair: prep.fitted() for pair, prep in preps.items()}
    fitted.windows["pairs"] = {pair: {"train": len(train[pair]), "val": len(val[pair])} for pair in preps}
    return fitted


def pool_windows(sets: list[WindowSet]) -> WindowSet:
    """Several pairs' windows as one set (x (sum N, L, C_in), y (sum N, H, 1)), in the order given;
    the trainer shuffles them together. origin and rows keep each pair's own dates and rows."""
    return WindowSet(x=np.concatenate([w.x for w in sets]), y=np.concatenate([w.y for w in sets]),
                     origin=sets[0].origin.append([w.origin for w in sets[1:]]),
                     last_close=np.concatenate([w.last_close for w in sets]),
                     rows=np.concatenate([w.rows for w in sets]))


def _fit_windows(train: WindowSet, val: WindowSet, n_inputs: int, horizon: int, model: ModelConfig,
                 train_cfg: TrainConfig, state_path: Optional[Path], resume: bool, progress: bool) -> Fitted:
    """The shared body of fit_prepared and fit_pooled: train, gate, calibrate (scalers are the caller's)."""
    if len(val) == 0:
        raise ForecasterError("the validation split holds no windows: use more data or a smaller horizon")
    began = time.perf_counter()
    net, result = fit(model, train_cfg, train.dataset(), val.dataset(), n_inputs=n_inputs, n_outputs=1,
                      horizon=horizon, state_path=state_path, resume=resume, progress=progress)
    gate = location_gate(net, val, train_cfg.gate)
    seconds = time.perf_counter() - began
    calibration = calibrate(net, val)
    return Fitted(net=net, config=net.forecaster_config, scalers={}, calibration=calibration,
                  result=result, gate=gate, windows={"train": len(train), "val": len(val)}, seconds=seconds)


def location_gate(net: MambaForecaster, val: WindowSet, alpha: float) -> dict:
    """Keep the trained location only when it beats the no-change forecast on the validation
    windows with a one-sided DM p < alpha (squared error averaged over the H steps per window,
    HAC over H-1 lags for the overlapping windows); otherwise reset it to no change (the scale of a
    distribution head is kept). Returns the test and the decision ("model" or "no-change")."""
    from forecaster.evaluation.verdicts import compare_with_random_walk

    y = val.y[:, :, 0].astype(np.float64)  # (N, H) scaled
    point = point_forecast(net, val.x)
    test = compare_with_random_walk(np.mean((point - y) ** 2, axis=1), np.mean(y**2, axis=1), y.shape[1],
                                    "validation", alpha=min(alpha, 0.49))
    kept = "model" if alpha >= 1 or test["dm_p_better"] < alpha else "no-change"
    if kept == "no-change":
        net.reset_location()
    random_walk = float(np.mean(y**2))
    mse = float(np.mean((point - y) ** 2)) if kept == "model" else random_walk
    return {**test, "alpha": alpha, "kept": kept, "val_mse": mse, "val_mse_random_walk": random_walk}


# levels whose quantiles a parametric head is read at for its intervals (intervals.LEVELS' ends and the median)
INTERVAL_QUANTILES = (0.025, 0.1, 0.5, 0.9, 0.975)


def _quantile_view(net: MambaForecaster, pred: np.ndarray) -> tuple[np.ndarray, tuple]:
    """The raw forecast (N, H[, Q or P]) as what the interval code reads: a parametric head's
    quantiles at INTERVAL_QUANTILES, or the output as it is."""
    cfg = net.forecaster_config
    if cfg.distribution == "none":
        return pred, cfg.quantiles
    import torch

    from forecaster.probabilistic.parametric import quantiles_from_params

    q = quantiles_from_params(torch.as_tensor(pred, dtype=torch.float64), INTERVAL_QUANTILES, cfg.distribution)
    return q.numpy(), INTERVAL_QUANTILES


def calibrate(net: MambaForecaster, val: WindowSet) -> dict:
    """Split-conformal interval widths per level and step from the validation windows
    (conformalised quantiles for quantile and parametric heads, residuals for a point forecast)."""
    pred, quantiles = _quantile_view(net, _forward(net, val.x))  # (N, H[, Q]) scaled
    return intervals.calibrate(pred, val.y[:, :, 0], quantiles)


def forecast(net: MambaForecaster, x: np.ndarray, calibration: dict) -> tuple[np.ndarray, dict]:
    """Scaled windows x (N, L, C_in) -> the point forecast (N, H) and the intervals
    {level: (lower (N, H), upper (N, H))} of the first output series, in scaled-target units."""
    return _point_and_bands(net, _forward(net, x), calibration)


def point_forecast(net: MambaForecaster, x: np.ndarray) -> np.ndarray:
    """Scaled windows x (N, L, C_in) -> the point forecast (N, H) of the first output series, in
    scaled-target units (forecast's point, without the intervals' quantiles)."""
    cfg = net.forecaster_config
    return intervals.point_forecast(_forward(net, x), cfg.quantiles, cfg.distribution)


def forecast_distribution(net: MambaForecaster, x: np.ndarray, target_scale: np.ndarray):
    """Scaled windows x (N, L, C_in) -> the forecast distribution of the cumulative log returns
    (forecaster.probabilistic.distributions: Predictive for a parametric head, Quantiles for a quantile head;
    None for a point forecast), the scaled targets mapped back with target_scale (H,)."""
    return _distribution(net, _forward(net, x), target_scale)


def forecast_all(net: MambaForecaster, x: np.ndarray, calibration: dict, target_scale: np.ndarray) -> tuple:
    """forecast's (point, bands), scaled, and forecast_distribution's distribution, from one forward pass."""
    raw = _forward(net, x)
    return (*_point_and_bands(net, raw, calibration), _distribution(net, raw, target_scale))


def _forward(net: MambaForecaster, x: np.ndarray) -> np.ndarray:
    """x (N, L, C_in) -> the raw forecast (N, H[, Q or P]) of the first output series."""
    return forecast_windows(net, x)[:, :, 0]


def _point_and_bands(net: MambaForecaster, raw: np.ndarray, calibration: dict) -> tuple[np.ndarray, dict]:
    cfg = net.forecaster_config
    pred, quantiles = _quantile_view(net, raw)
    return intervals.point_forecast(raw, cfg.quantiles, cfg.distribution), intervals.intervals(pred, calibration, quantiles)


def _distribution(net: MambaForecaster, raw: np.ndarray, target_scale: np.ndarray):
    from forecaster.probabilistic.distributions import Predictive, Quantiles

    cfg = net.forecaster_config
    raw = raw.astype(np.float64)
    s = np.asarray(target_scale, dtype=np.float64)[None, :]  # (1, H)
    if cfg.distribution != "none":
        df = raw[..., 2] if cfg.distribution == "student_t" else np.inf
        return Predictive(loc=raw[..., 0] * s, scale=raw[..., 1] * s, df=df)
    if cfg.quantiles:
        return Quantiles(levels=np.asarray(cfg.quantiles), values=raw * s[..., None])
    return None


def save(folder: Path, net: MambaForecaster, meta: dict) -> None:
    """Weights and metadata (the model configuration under "model_config") into folder, atomically."""
    checkpoint.save(folder, net.state_dict(), {**meta, "model_config": net.forecaster_config.to_dict()})


def load(folder: Path) -> tuple[MambaForecaster, dict]:
    """A saved forecaster (eval mode) and its metadata; ForecasterError on a missing, damaged or mismatched save."""
    state, meta = checkpoint.load(folder)
    try:
        net = build(ForecasterConfig.from_dict(meta["model_config"]))
        net.load_state_dict(state)
    except (KeyError, ValueError, TypeError, RuntimeError) as exc:
        raise ForecasterError(f"{folder}: the weights do not fit the saved configuration ({exc}); retrain the model") from exc
    return net.eval(), meta

