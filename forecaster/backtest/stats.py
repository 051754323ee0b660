"""Forecast statistics: errors on prices, MASE, Theil's U2, directional accuracy with the
Pesaran-Timmermann test, and the Diebold-Mariano test against the random walk.

Notation: N origins, H steps. `pred` and `actual` are cumulative log returns from the close at
each origin (N, H); prices are last_close * exp(return). The random walk forecasts a return of 0.

Tests:
  - Diebold & Mariano (1995) on squared-error loss differentials d_t = e_model^2 - e_rw^2, with the
    long-run variance of d estimated from autocovariances up to lag h-1 (rectangular kernel: an
    h-step forecast error is at most MA(h-1)), and the Harvey, Leybourne & Newbold (1997) small-sample
    correction; the statistic is compared with Student's t on N-1 degrees of freedom. The p-value
    reported is ONE-SIDED for skill: H1 "the model is more accurate than the random walk".
  - Pesaran & Timmermann (1992) on the signs of forecast and actual returns; one-sided p-value for
    H1 "the forecast signs carry information about the actual signs".
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np
from scipy import stats as _sp


def mae(err: np.ndarray) -> float:
    return float(np.mean(np.abs(err)))


def rmse(err: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(err))))


def mape(err: np.ndarray, actual: np.ndarray) -> float:
    """Mean absolute percentage error, in percent."""
    return float(100.0 * np.mean(np.abs(err / actual)))


def pesaran_timmermann(pred: np.ndarray, actual: np.ndarray) -> dict:
    """Directional accuracy and the PT test. Zeros count as 'not up'. Returns accuracy, statistic,
    one-sided p-value (NaN when the test is undefined, e.g. every forecast has the same sign)."""
    x = np.asarray(pred).ravel() > 0  # forecast up
    y = np.asarray(actual).ravel() > 0  # actual up
    n = len(x)
    if n == 0:
        return {"accuracy": math.nan, "pt_stat": math.nan, "pt_p": math.nan}
    p_hat = float(np.mean(x == y))
    py, px = float(np.mean(y)), float(np.mean(x))
    p_star = py * px + (1 - py) * (1 - px)
    var_p = p_star * (1 - p_star) / n
    var_star = ((2 * py - 1) ** 2 * px * (1 - px) / n + (2 * px - 1) ** 2 * py * (1 - py) / n
                + 4 * py * px * (1 - py) * (1 - px) / n**2)
    denom = var_p - var_star
    if denom <= 0:
        return {"accuracy": p_hat, "pt_stat": math.nan, "pt_p": math.nan}
    stat = (p_hat - p_star) / math.sqrt(denom)
    return {"accuracy": p_hat, "pt_stat": stat, "pt_p": float(_sp.norm.sf(stat))}


def diebold_mariano(loss_model: np.ndarray, loss_base: np.ndarray, h: int) -> dict:
    """DM test with HAC variance (lags 0..h-1) and the HLN correction.

    loss_* (N,) per-origin losses. Returns statistic (negative: the model has lower loss) and the
    one-sided p-value for H1 "model better". NaN when the differential has no variance."""
    d = np.asarray(loss_model, dtype=np.float64) - np.asarray(loss_base, dtype=np.float64)
    n = len(d)
    if n < 2 or h < 1:
        return {"dm_stat": math.nan, "dm_p": math.nan}
    mean = float(d.mean())
    dc = d - mean
    gamma = [float(dc @ dc) / n] + [float(dc[k:] @ dc[:-k]) / n for k in range(1, min(h, n))]
    long_run = gamma[0] + 2.0 * sum(gamma[1:])
    if long_run <= 0:  # the truncated HAC sum can go negative; fall back to the plain variance
        long_run = gamma[0]
    if long_run <= 0:
        return {"dm_stat": math.nan, "dm_p": math.nan}
    dm = mean / math.sqrt(long_run / n)
    hln = math.sqrt((n + 1 - 2 * h + h * (h - 1) / n) / n)
    stat = dm * hln
    return {"dm_stat": stat, "dm_p": float(_sp.t.cdf(stat, df=n - 1))}


def mase_scale(log_close_train: np.ndarray, h: int) -> float:
    """In-sample MAE of the h-step no-change forecast on training prices: the MASE denominator."""
    close = np.exp(np.asarray(log_close_train, dtype=np.float64))
    if len(close) <= h:
        return math.nan
    return float(np.mean(np.abs(close[h:] - close[:-h])))


def forecast_stats(pred: np.ndarray, actual: np.ndarray, last_close: np.ndarray, scales: np.ndarray,
                   intervals: Optional[dict] = None) -> dict:
    """Per-step and overall statistics of one model.

    pred, actual (N, H) cumulative log returns; last_close (N,); scales (H,) MASE denominators;
    intervals {level: (lower (N, H), upper (N, H))} in cumulative log returns, optional.
    """
    pred, actual = np.asarray(pred, np.float64), np.asarray(actual, np.float64)
    n, horizon = pred.shape
    base = last_close[:, None]
    p_pred, p_act = base * np.exp(pred), base * np.exp(actual)  # (N, H) prices
    err = p_pred - p_act
    err_rw = base - p_act  # the random walk forecasts the last close
    sq, sq_rw = err**2, err_rw**2
    steps = []
    for h in range(horizon):
        row = {"step": h + 1, "mae": mae(err[:, h]), "rmse": rmse(err[:, h]), "mape": mape(err[:, h], p_act[:, h]),
               "mase": mae(err[:, h]) / scales[h] if scales[h] > 0 else math.nan}
        rw = rmse(err_rw[:, h])
        row["theil_u2"] = row["rmse"] / rw if rw > 0 else math.nan
        row.update(_direction(pred[:, h], actual[:, h]))
        row.update(diebold_mariano(sq[:, h], sq_rw[:, h], h + 1))
        steps.append(row)
    overall = {"mae": mae(err), "rmse": rmse(err), "mape": mape(err, p_act),
               "mase": float(np.nanmean([s["mase"] for s in steps]))}
    rw = rmse(err_rw)
    overall["theil_u2"] = overall["rmse"] / rw if rw > 0 else math.nan
    overall.update(_direction(pred, actual))
    overall.update(diebold_mariano(sq.mean(axis=1), sq_rw.mean(axis=1), horizon))
    if intervals:
        for level, (lo, hi) in intervals.items():
            inside = (actual >= lo) & (actual <= hi)
            pct = round(float(level) * 100)
            width = base * (np.exp(hi) - np.exp(lo))  # price width
            overall[f"coverage_{pct}"] = float(inside.mean())
            overall[f"width_{pct}"] = float(width.mean())
            for h, row in enumerate(steps):
                row[f"coverage_{pct}"] = float(inside[:, h].mean())
                row[f"width_{pct}"] = float(width[:, h].mean())
    return {"overall": overall, "per_step": steps, "n_origins": int(n)}


def _direction(pred: np.ndarray, actual: np.ndarray) -> dict:
    """Directional accuracy over non-zero forecasts (a zero forecast, the random walk's, has no direction)."""
    pred, actual = np.asarray(pred).ravel(), np.asarray(actual).ravel()
    if not np.any(pred != 0):
        return {"directional_accuracy": math.nan, "pt_stat": math.nan, "pt_p": math.nan}
    keep = pred != 0
    res = pesaran_timmermann(pred[keep], actual[keep])
    return {"directional_accuracy": res["accuracy"], "pt_stat": res["pt_stat"], "pt_p": res["pt_p"]}
