"""How a Mamba forecaster is built, trained, calibrated, saved and loaded: the one path.

Every caller that needs a trained model goes through this module: `api.train` and `api.load`
(the CLI's train, predict and models), the backtest's Mamba model (`backtest/neural.py`), the
demo, and the Exchange-Rate benchmark (`exchange.py`). Nothing else builds or fits one.

    ModelConfig --build--> MambaForecaster --fit (training.fit: the one trainer)--> best weights on validation
        --calibrate (split-conformal on the validation windows)--> Fitted --save / load--> models/<name>/

Targets are scaled changes from the last observed value, so the untrained model (zero output)
is the no-change forecast and the trainer's check 0 is the random walk.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from forecaster import checkpoint, intervals
from forecaster.configs import ModelConfig, TrainConfig
from forecaster.data import Prepared, WindowSet
from forecaster.errors import ForecasterError
from forecaster.mamba import ForecasterConfig, MambaForecaster
from forecaster.predict import forecast_windows
from forecaster.training import FitResult, as_dataset, evaluate, fit as train_loop, resolve_device, seed_everything


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
    scalers: dict  # the data's scalers, fitted on the training rows (forecaster.data.Prepared.fitted)
    calibration: dict  # split-conformal interval widths per level, from the validation windows
    result: FitResult = field(repr=False)
    gate: dict = field(default_factory=dict)  # the validation test that kept or reset the trained location
    windows: dict = field(default_factory=dict)  # split -> number of windows
    seconds: float = 0.0

    @property
    def quantiles(self) -> tuple:
        return self.config.quantiles


def fit_prepared(prep: Prepared, model: ModelConfig, train_cfg: TrainConfig, state_path: Optional[Path] = None,
                 resume: bool = False, progress: bool = True) -> Fitted:
    """Train on a prepared series' training windows, stop early and calibrate on its validation windows."""
    train, val = prep.windows("train"), prep.windows("val")
    if len(val) == 0:
        raise ForecasterError("the validation split holds no windows: use more data or a smaller horizon")
    began = time.perf_counter()
    net, result = fit(model, train_cfg, train.dataset(), val.dataset(), n_inputs=prep.n_features, n_outputs=1,
                      horizon=prep.config.horizon, state_path=state_path, resume=resume, progress=progress)
    gate = location_gate(net, val, train_cfg.gate)
    seconds = time.perf_counter() - began
    calibration = calibrate(net, val)
    return Fitted(net=net, config=net.forecaster_config, scalers=prep.fitted(), calibration=calibration,
                  result=result, gate=gate, windows={"train": len(train), "val": len(val)}, seconds=seconds)


def location_gate(net: MambaForecaster, val: WindowSet, alpha: float) -> dict:
    """Keep the trained location only when it beats the no-change forecast on the validation
    windows with a one-sided DM p < alpha (squared error averaged over the H steps per window,
    HAC over H-1 lags for the overlapping windows); otherwise reset it to no change (the scale of a
    distribution head is kept). Returns the test and the decision ("model" or "no-change")."""
    from forecaster.verdicts import compare_with_random_walk

    y = val.y[:, :, 0].astype(np.float64)  # (N, H) scaled
    point, _ = forecast(net, val.x, {})
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

    from forecaster.parametric import quantiles_from_params

    q = quantiles_from_params(torch.as_tensor(pred, dtype=torch.float64), INTERVAL_QUANTILES, cfg.distribution)
    return q.numpy(), INTERVAL_QUANTILES


def calibrate(net: MambaForecaster, val: WindowSet) -> dict:
    """Split-conformal interval widths per level and step from the validation windows
    (conformalised quantiles for quantile and parametric heads, residuals for a point forecast)."""
    pred, quantiles = _quantile_view(net, forecast_windows(net, val.x)[:, :, 0])  # (N, H[, Q]) scaled
    return intervals.calibrate(pred, val.y[:, :, 0], quantiles)


def forecast(net: MambaForecaster, x: np.ndarray, calibration: dict) -> tuple[np.ndarray, dict]:
    """Scaled windows x (N, L, C_in) -> the point forecast (N, H) and the intervals
    {level: (lower (N, H), upper (N, H))} of the first output series, in scaled-target units."""
    cfg = net.forecaster_config
    raw = forecast_windows(net, x)[:, :, 0]  # (N, H[, Q or P])
    pred, quantiles = _quantile_view(net, raw)
    return intervals.point_forecast(raw, cfg.quantiles, cfg.distribution), intervals.intervals(pred, calibration, quantiles)


def forecast_distribution(net: MambaForecaster, x: np.ndarray, target_scale: np.ndarray):
    """Scaled windows x (N, L, C_in) -> the forecast distribution of the cumulative log returns
    (forecaster.distributions: Predictive for a parametric head, Quantiles for a quantile head;
    None for a point forecast), the scaled targets mapped back with target_scale (H,)."""
    cfg = net.forecaster_config
    raw = forecast_windows(net, x)[:, :, 0].astype(np.float64)  # (N, H[, Q or P])
    s = np.asarray(target_scale, dtype=np.float64)[None, :]  # (1, H)
    from forecaster.distributions import Predictive, Quantiles

    if cfg.distribution != "none":
        df = raw[..., 2] if cfg.distribution == "student_t" else np.inf
        return Predictive(loc=raw[..., 0] * s, scale=raw[..., 1] * s, df=df)
    if cfg.quantiles:
        return Quantiles(levels=np.asarray(cfg.quantiles), values=raw * s[..., None])
    return None


def score(net: MambaForecaster, windows, device: str = "cpu") -> dict:
    """MSE and MAE of the point forecast, and of the no-change forecast, over windows
    (x (N, L, C_in), y (N, H, C_out)), averaged over windows, steps and series."""
    import torch.nn.functional as F

    try:
        cfg = net.forecaster_config
        return evaluate(net.to(device), as_dataset(windows), F.mse_loss, cfg.quantiles, resolve_device(device),
                        distribution=cfg.distribution)
    finally:
        net.cpu()


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

