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
    H1 "the forecast signs carry information about the actual signs". Step 1: the classic statistic.
    Step h > 1: the h-step returns of neighbouring origins overlap (h-1 shared bars), which the classic
    test takes for independent draws (on a random walk it then rejects 15-24% of the time at 5%);
    there PT is written as a moment test with a Newey-West variance over h-1 lags
    (sign_moment_test). The overall PT tests all steps at once the same way (H-1 lags), never
    N x H returns as independent.
  - Multiple comparisons: Hansen's (2005) SPA test and White's (2000) Reality Check of "some model
    beats the random walk", from arch.bootstrap.SPA (spa_test, spa_vs_random_walk).
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np
from scipy import stats as _sp

from forecaster.errors import ForecasterError
from forecaster.probabilistic.intervals import inside


def mae(err: np.ndarray) -> float:
    return float(np.mean(np.abs(err)))


def rmse(err: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(err))))


def mape(err: np.ndarray, actual: np.ndarray) -> float:
    """Mean absolute percentage error, in percent."""
    return float(100.0 * np.mean(np.abs(err / actual)))


def pesaran_timmermann(pred: np.ndarray, actual: np.ndarray, h: int = 1) -> dict:
    """Directional accuracy and the PT test of one forecast step. Zeros count as 'not up'.

    pred, actual (N,) in origin order. h = 1: the classic Pesaran & Timmermann (1992) statistic.
    h > 1: the h-step returns of neighbouring origins overlap, so the sign moment's variance is
    Newey-West with h-1 lags (see `sign_moment_test`). Returns accuracy, statistic and the one-sided
    p-value (NaN when the test is undefined, e.g. every forecast has the same sign)."""
    if not isinstance(h, (int, np.integer)) or h < 1:
        raise ForecasterError(f"h={h!r} is invalid: accepted an integer >= 1 (the forecast step)")
    x = np.asarray(pred).ravel() > 0  # (N,) forecast up
    y = np.asarray(actual).ravel() > 0  # (N,) actual up
    n = len(x)
    if n == 0:
        return {"accuracy": math.nan, "pt_stat": math.nan, "pt_p": math.nan}
    p_hat = float(np.mean(x == y))
    if h > 1:
        return {"accuracy": p_hat, **sign_moment_test(x[:, None], y[:, None], lags=h - 1)}
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


def sign_moment_test(x: np.ndarray, y: np.ndarray, lags: int, mask: Optional[np.ndarray] = None) -> dict:
    """PT written as a moment test, with a HAC (Newey-West) variance: robust to overlapping returns.

    x, y (N, S) booleans: forecast up, actual up, at N origins (in time order) and S steps; mask (N, S)
    the entries that count (default all). Hit rate minus its chance value is P - P* = 2 cov(x, y), so
    the PT test is a test of E[z] = 0 with z = (x - mean x)(y - mean y) (Pesaran & Timmermann 2009,
    JASA 104:325, show PT is the test of a zero slope of y on x). The per-origin moment
    m_t = sum over steps of z_t,s has, under H0 (the forecast carries no information about the
    future returns), no autocorrelation beyond lag h-1 for h-step returns, so its long-run variance
    is estimated from autocovariances 0..lags with Bartlett weights (Newey & West 1987, Econometrica
    55:703; always non-negative). Statistic mean(m) / sqrt(LRV / N), one-sided normal p-value."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)  # (N, S)
    keep = np.ones(x.shape, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    cols = keep.sum(axis=0) > 0  # steps with at least one entry that counts
    x, y, keep = x[:, cols], y[:, cols], keep[:, cols]
    count = keep.sum(axis=0)  # (S,)
    if x.shape[0] < 2 or len(count) == 0:
        return {"pt_stat": math.nan, "pt_p": math.nan}
    mx = (x * keep).sum(axis=0) / count  # (S,)
    my = (y * keep).sum(axis=0) / count
    m = np.where(keep, (x - mx) * (y - my), 0.0).sum(axis=1)  # (N,)
    n = len(m)
    lrv = newey_west(m, lags)
    if not lrv > 1e-15 * max(1.0, float(np.mean(m**2))):  # every forecast or every actual the same sign
        return {"pt_stat": math.nan, "pt_p": math.nan}
    stat = float(m.mean() / math.sqrt(lrv / n))
    return {"pt_stat": stat, "pt_p": float(_sp.norm.sf(stat))}


def newey_west(series: np.ndarray, lags: int) -> float:
    """Long-run variance of a (N,) series: autocovariances 0..lags with Bartlett weights 1 - k/(lags+1)."""
    z = np.asarray(series, dtype=np.float64)
    n = len(z)
    lags = int(min(max(lags, 0), n - 1))
    zc = z - z.mean()
    size = 1 << int(2 * n - 1).bit_length()  # zero-padded FFT: every autocovariance at once
    spec = np.fft.rfft(zc, size)
    acov = np.fft.irfft(spec * np.conj(spec), size)[: lags + 1] / n  # (lags+1,)
    weights = 1.0 - np.arange(1, lags + 1) / (lags + 1)
    return float(acov[0] + 2.0 * np.dot(weights, acov[1:]))


def diebold_mariano(loss_model: np.ndarray, loss_base: np.ndarray, h: int) -> dict:
    """DM test with HAC variance (lags 0..h-1) and the HLN correction.

    loss_* (N,) per-origin losses. Returns statistic (negative: the model has lower loss) and the
    one-sided p-values for H1 "model better" (dm_p) and H1 "model worse" (dm_p_worse). NaN when the
    differential has no variance."""
    d = np.asarray(loss_model, dtype=np.float64) - np.asarray(loss_base, dtype=np.float64)
    n = len(d)
    if n < 2 or h < 1:
        return {"dm_stat": math.nan, "dm_p": math.nan, "dm_p_worse": math.nan}
    mean = float(d.mean())
    dc = d - mean
    gamma = [float(dc @ dc) / n] + [float(dc[k:] @ dc[:-k]) / n for k in range(1, min(h, n))]
    long_run = gamma[0] + 2.0 * sum(gamma[1:])
    if long_run <= 0:  # the truncated HAC sum can go negative; fall back to the plain variance
        long_run = gamma[0]
    if long_run <= 0:
        return {"dm_stat": math.nan, "dm_p": math.nan, "dm_p_worse": math.nan}
    dm = mean / math.sqrt(long_run / n)
    hln = math.sqrt((n + 1 - 2 * h + h * (h - 1) / n) / n)
    stat = dm * hln
    return {"dm_stat": stat, "dm_p": float(_sp.t.cdf(stat, df=n - 1)), "dm_p_worse": float(_sp.t.sf(stat, df=n - 1))}


SPA_REPS = 1000  # bootstrap replications of the SPA test and the Reality Check
SPA_SEED = 0  # their bootstrap seed: the same losses give the same p-values
SPA_MIN_N = 10  # fewer origins than this give no SPA test


def spa_test(loss_benchmark: np.ndarray, losses_models: np.ndarray, h: int = 1, block: Optional[int] = None,
             reps: int = SPA_REPS, seed: int = SPA_SEED) -> dict:
    """Does SOME model beat the benchmark? Hansen's SPA test and White's Reality Check (arch.bootstrap.SPA).

    loss_benchmark (N,) and losses_models (N, M): per-origin losses (lower is better), in time order.
    H0: no model has a lower expected loss than the benchmark; a small p-value says at least one does,
    with the search over M models accounted for. The stationary bootstrap (Politis & Romano 1994)
    draws blocks of mean length `block`; by default the larger of h (h-step errors of neighbouring
    origins overlap) and the Politis-White (2004) optimal length of the loss differentials.
      spa_p            Hansen (2005) SPA, studentized, the 'consistent' recentring
      spa_p_lower, spa_p_upper   Hansen's bounds on it
      reality_check_p  White (2000): not studentized, every model at the least favourable null
    Models whose loss differential has no variance (the benchmark's own forecasts) cannot be tested
    and are left out; `models` counts those tested. NaN p-values when none is left."""
    from arch.bootstrap import SPA, optimal_block_length

    bench = np.asarray(loss_benchmark, dtype=np.float64)
    models = np.asarray(losses_models, dtype=np.float64)
    if models.ndim == 1:
        models = models[:, None]
    if bench.ndim != 1 or models.ndim != 2 or models.shape[0] != len(bench):
        raise ForecasterError(f"losses of shape {bench.shape} and {models.shape} do not fit: accepted the benchmark's "
                              f"(N,) and the models' (N, M) with the same N")
    if not (np.all(np.isfinite(bench)) and np.all(np.isfinite(models))):
        raise ForecasterError("the losses hold NaN or infinite values: accepted finite numbers only")
    if len(bench) < SPA_MIN_N:
        raise ForecasterError(f"{len(bench)} losses are too few for the SPA test: accepted N >= {SPA_MIN_N} origins")
    for name, value, low in (("h", h, 1), ("reps", reps, 1)):
        if not isinstance(value, (int, np.integer)) or value < low:
            raise ForecasterError(f"{name}={value!r} is invalid: accepted an integer >= {low}")
    if block is not None and (not isinstance(block, (int, np.integer)) or not 1 <= block <= len(bench)):
        raise ForecasterError(f"block={block!r} is invalid: accepted an integer in 1..{len(bench)} or None (automatic)")
    n = len(bench)
    diff = bench[:, None] - models  # (N, M) positive where the model is better
    testable = diff.std(axis=0) > 1e-12 * float(np.mean(np.abs(bench)))  # (M,) relative to the loss scale
    out = {"spa_p": math.nan, "spa_p_lower": math.nan, "spa_p_upper": math.nan, "reality_check_p": math.nan,
           "n": int(n), "models": int(testable.sum()), "block": None, "reps": int(reps), "seed": int(seed)}
    if not np.any(testable):
        return out
    models = models[:, testable]
    if block is None:
        auto = float(np.max(optimal_block_length(diff[:, testable])["stationary"]))
        block = int(min(n, max(h, math.ceil(auto) if math.isfinite(auto) else h)))
    spa = SPA(bench, models, block_size=int(block), reps=int(reps), bootstrap="stationary", studentize=True, seed=seed)
    spa.compute()
    white = SPA(bench, models, block_size=int(block), reps=int(reps), bootstrap="stationary", studentize=False,
                seed=seed)
    white.compute()
    out.update(spa_p=float(spa.pvalues["consistent"]), spa_p_lower=float(spa.pvalues["lower"]),
               spa_p_upper=float(spa.pvalues["upper"]), reality_check_p=float(white.pvalues["upper"]), block=int(block))
    return out


def spa_vs_random_walk(forecasts: dict, actual: np.ndarray, last_close: np.ndarray, reps: int = SPA_REPS,
                       seed: int = SPA_SEED) -> dict:
    """spa_test of every model of a backtest against the random walk (the no-change forecast).

    forecasts {name: (N, H)} and actual (N, H) cumulative log returns; last_close (N,). The loss of an
    origin is its mean squared price error over the H steps (the loss of the overall DM test); the
    bootstrap block is at least H. Models that forecast exactly what the random walk does (the
    random_walk row itself) are listed under `identical_to_benchmark` and not tested."""
    actual = np.asarray(actual, dtype=np.float64)  # (N, H)
    base = np.asarray(last_close, dtype=np.float64)[:, None]  # (N, 1)
    p_act = base * np.exp(actual)  # (N, H)
    loss_rw = np.mean((base - p_act) ** 2, axis=1)  # (N,)
    names = list(forecasts)
    if not names:
        raise ForecasterError("no models to compare with the random walk: accepted at least one forecast")
    losses = np.stack([np.mean((base * np.exp(np.asarray(forecasts[k], np.float64)) - p_act) ** 2, axis=1)
                       for k in names], axis=1)  # (N, M)
    same = [k for k, col in zip(names, losses.T) if np.array_equal(col, loss_rw)]
    tested = [k for k in names if k not in same]
    if len(loss_rw) < SPA_MIN_N:  # too short a test period: report no test rather than fail the backtest
        res = {"spa_p": math.nan, "spa_p_lower": math.nan, "spa_p_upper": math.nan, "reality_check_p": math.nan,
               "n": len(loss_rw), "models": 0, "block": None, "reps": int(reps), "seed": int(seed)}
    else:
        res = spa_test(loss_rw, losses[:, [names.index(k) for k in tested]] if tested else np.empty((len(loss_rw), 0)),
                       h=actual.shape[1], reps=reps, seed=seed)
    return {**res, "benchmark": "random_walk", "model_names": tested, "identical_to_benchmark": same,
            "loss": "per-origin mean over the H steps of the squared price error"}


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
        row.update(_direction(pred[:, h], actual[:, h], h + 1))
        row.update(diebold_mariano(sq[:, h], sq_rw[:, h], h + 1))
        steps.append(row)
    overall = {"mae": mae(err), "rmse": rmse(err), "mape": mape(err, p_act),
               "mase": float(np.nanmean([s["mase"] for s in steps]))}
    rw = rmse(err_rw)
    overall["theil_u2"] = overall["rmse"] / rw if rw > 0 else math.nan
    overall.update(_direction_overall(pred, actual))
    overall.update(diebold_mariano(sq.mean(axis=1), sq_rw.mean(axis=1), horizon))
    if intervals:
        for level, (lo, hi) in intervals.items():
            ins = inside(actual, lo, hi)
            pct = round(float(level) * 100)
            width = base * (np.exp(hi) - np.exp(lo))  # price width
            overall[f"coverage_{pct}"] = float(ins.mean())
            overall[f"width_{pct}"] = float(width.mean())
            for h, row in enumerate(steps):
                row[f"coverage_{pct}"] = float(ins[:, h].mean())
                row[f"width_{pct}"] = float(width[:, h].mean())
    return {"overall": overall, "per_step": steps, "n_origins": int(n)}


def _direction(pred: np.ndarray, actual: np.ndarray, h: int) -> dict:
    """Directional accuracy and PT at step h over non-zero forecasts (a zero forecast, the random
    walk's, has no direction). pred, actual (N,)."""
    pred, actual = np.asarray(pred).ravel(), np.asarray(actual).ravel()
    if not np.any(pred != 0):
        return {"directional_accuracy": math.nan, "pt_stat": math.nan, "pt_p": math.nan}
    keep = pred != 0
    res = pesaran_timmermann(pred[keep], actual[keep], h)
    return {"directional_accuracy": res["accuracy"], "pt_stat": res["pt_stat"], "pt_p": res["pt_p"]}


def _direction_overall(pred: np.ndarray, actual: np.ndarray) -> dict:
    """Hit rate over every non-zero forecast (N, H), and ONE PT test of all steps together: the sign
    moments of the H steps summed per origin, Newey-West with H-1 lags (sign_moment_test). The N x H
    overlapping returns are never counted as independent. H = 1: the classic step-1 test."""
    pred, actual = np.asarray(pred), np.asarray(actual)  # (N, H)
    if pred.shape[1] == 1:
        return _direction(pred[:, 0], actual[:, 0], 1)
    keep = pred != 0  # (N, H)
    if not np.any(keep):
        return {"directional_accuracy": math.nan, "pt_stat": math.nan, "pt_p": math.nan}
    hits = float(np.mean((pred[keep] > 0) == (actual[keep] > 0)))
    return {"directional_accuracy": hits, **sign_moment_test(pred > 0, actual > 0, lags=pred.shape[1] - 1, mask=keep)}
