"""Prediction intervals by split-conformal calibration on the validation split.

For a level a (0.8 means an 80% interval), per horizon step h:
  - with quantile heads at (1-a)/2 and (1+a)/2: conformalised quantile regression (Romano et al.
    2019): scores s = max(q_lo - y, y - q_hi); interval [q_lo - c, q_hi + c];
  - otherwise: absolute residuals s = |y - y_hat| around the point forecast; interval y_hat -+ c;
where c is the ceil((n+1) a)-th smallest of the n validation scores. Under exchangeability this
covers at least a of new targets; the test split's empirical coverage is reported beside it.
All values here are in the model's scaled-target space (monotone in price).
"""

from __future__ import annotations

import math

import numpy as np

LEVELS = (0.8, 0.95)


def _quantile_index(quantiles: tuple, q: float):
    for i, value in enumerate(quantiles):
        if abs(value - q) < 1e-9:
            return i
    return None


def point_forecast(pred, quantiles: tuple):
    """(..., H, C[, Q]) numpy array or tensor -> the point forecast: the output itself, or the
    median head (the quantile nearest 0.5)."""
    if not quantiles:
        return pred
    return pred[..., int(np.argmin([abs(q - 0.5) for q in quantiles]))]


def conformal_quantile(scores: np.ndarray, level: float) -> np.ndarray:
    """scores (n, H) -> (H,): the ceil((n+1) level)-th smallest per column (inf when n is too small)."""
    n = scores.shape[0]
    k = math.ceil((n + 1) * level)
    if k > n:
        return np.full(scores.shape[1], np.inf)
    return np.sort(scores, axis=0)[k - 1]


def calibrate(pred: np.ndarray, y: np.ndarray, quantiles: tuple = (), levels=LEVELS) -> dict:
    """pred (N, H[, Q]) and y (N, H) on the validation split -> {level: {"method", "c": [H]}}."""
    calibration = {}
    for level in levels:
        lo, hi = _quantile_index(quantiles, (1 - level) / 2), _quantile_index(quantiles, (1 + level) / 2)
        if lo is not None and hi is not None:
            scores = np.maximum(pred[..., lo] - y, y - pred[..., hi])
            method = "cqr"
        else:
            scores = np.abs(y - point_forecast(pred, quantiles))
            method = "residual"
        calibration[str(level)] = {"method": method, "c": conformal_quantile(scores, level).tolist(), "n": int(len(y))}
    return calibration


def intervals(pred: np.ndarray, calibration: dict, quantiles: tuple = ()) -> dict:
    """pred (N, H[, Q]) -> {level: (lower (N, H), upper (N, H))}."""
    out = {}
    for level, cal in calibration.items():
        c = np.asarray(cal["c"])
        if cal["method"] == "cqr":
            lvl = float(level)
            lo, hi = _quantile_index(quantiles, (1 - lvl) / 2), _quantile_index(quantiles, (1 + lvl) / 2)
            out[level] = (pred[..., lo] - c, pred[..., hi] + c)
        else:
            point = point_forecast(pred, quantiles)
            out[level] = (point - c, point + c)
    return out


def coverage(y: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    """Share of targets inside [lower, upper]."""
    return float(np.mean((y >= lower) & (y <= upper)))


def width(lower: np.ndarray, upper: np.ndarray) -> float:
    return float(np.mean(upper - lower))
