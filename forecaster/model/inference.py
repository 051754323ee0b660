"""Inference: a trained network over batches of scaled windows, and the one forecast call that
turns its raw head output into a ModelForecast (point, calibrated intervals, distribution)."""

from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from forecaster.model.device import cpu_threads
from forecaster.probabilistic import intervals
from forecaster.probabilistic.contract import ModelForecast
from forecaster.probabilistic.distributions import Quantiles
from forecaster.probabilistic.families import family
from forecaster.probabilistic.intervals import interval_quantiles


@torch.no_grad()
def forecast_windows(model: torch.nn.Module, x: np.ndarray, batch_size: int = 1024, threads: int = 1) -> np.ndarray:
    """x (N, L, C_in) scaled features -> (N, H, C_out[, Q]) scaled forecasts, as numpy.

    threads: torch CPU threads meanwhile (0 = unchanged); one by default, as in training (on a busy
    machine two threads made this 7x slower)."""

    model.eval()
    device = next(model.parameters()).device
    with cpu_threads(threads):
        out = [model(torch.as_tensor(x[i : i + batch_size], device=device)).float().cpu().numpy()
               for i in range(0, len(x), batch_size)]
    return np.concatenate(out) if out else np.zeros((0,))


def raw_forecast(net, x: np.ndarray) -> np.ndarray:
    """x (N, L, C_in) -> the raw head output (N, H[, Q or P]) of the first output series, scaled."""
    return forecast_windows(net, x)[:, :, 0]


def quantile_view(net, raw: np.ndarray) -> tuple[np.ndarray, tuple]:
    """The raw forecast (N, H[, Q or P]) as what the interval code reads: a parametric head's
    quantiles at interval_quantiles(), or the output as it is with the head's quantile levels."""
    cfg = net.forecaster_config
    if cfg.distribution == "none":
        return raw, cfg.quantiles
    levels = interval_quantiles()
    return family(cfg.distribution).quantiles(torch.as_tensor(raw, dtype=torch.float64), levels).numpy(), levels


def forecast(net, x: np.ndarray, calibration: dict, target_scale: Optional[np.ndarray] = None) -> ModelForecast:
    """The one forecast call: scaled windows x (N, L, C_in) -> the point (N, H), the calibrated
    intervals {level: (lower, upper)} and the distribution (N, H) (Predictive for a parametric head,
    Quantiles for a quantile head, None for a point head), from one forward pass. Units: the scaled
    targets mapped back with target_scale (H,) (cumulative log returns); scaled units when None."""
    cfg = net.forecaster_config
    raw = raw_forecast(net, x)
    pred, quantiles = quantile_view(net, raw)
    point = intervals.point_forecast(raw, cfg.quantiles, cfg.distribution)
    bands = intervals.intervals(pred, calibration, quantiles)
    if target_scale is None:
        return ModelForecast(point=point, bands=bands, distribution=_distribution(cfg, raw, np.ones(raw.shape[1])))
    s = np.asarray(target_scale, dtype=np.float64)  # (H,)
    return ModelForecast(point=point * s, bands={lv: (lo * s, hi * s) for lv, (lo, hi) in bands.items()},
                         distribution=_distribution(cfg, raw, s))


def _distribution(cfg, raw: np.ndarray, target_scale: np.ndarray):
    """The forecast distribution of a parametric or quantile head (None for a point head)."""
    if cfg.distribution != "none":
        return family(cfg.distribution).predictive(raw, target_scale)
    if cfg.quantiles:
        return Quantiles(levels=np.asarray(cfg.quantiles), values=raw.astype(np.float64) * target_scale[None, :, None])
    return None
