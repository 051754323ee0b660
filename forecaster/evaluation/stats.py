"""Forecast statistics: errors on prices, MASE, Theil's U2, directional accuracy with the
Pesaran-Timmermann test, and the Diebold-Mariano test against the random walk.

Notation: N origins, H steps. `pred` and `actual` are cumulative log returns from the close at
each origin (N, H); prices are last_close * exp(return). The random walk forecasts a return of 0.

Tests:
  - Diebold & Mariano (1995) on loss differentials d_t (squared errors: e_model^2 - e_rw^2), with a
    fixed-smoothing long-run variance of d: equal-weighted cosine projections (N^(1/3) of them), or the
    MA(h-1) sum of autocovariances 0..h-1 where that is larger, and Student's t on the projections'
    count (diebold_mariano). Losses of volatility forecasts are persistent, so h-1 lags are not enough.
    The p-value reported is ONE-SIDED for skill: H1 "the model is more accurate than the random walk".
  - Pesaran & Timmermann (1992) on the signs of forecast and actual returns; one-sided p-value for
    H1 "the forecast signs carry information about the actual signs". Step 1: the classic statistic.
    Step h > 1: the h-step returns of neighbouring origins overlap (h-1 shared bars), which the classic
    test takes for independent draws (on a random walk it then rejects 15-24% of the time at 5%);
    there PT is written as a moment test with a Hansen-Hodrick variance over h-1 lags and Student-t
    critical values (sign_moment_test). The overall PT tests all steps at once the same way (H-1 lags),
    never N x H returns as independent. Both remove the bias that a forecast reacting to past returns
    puts on the chance rate (feedback_bias). Sizes: benchmarks/test_sizes.py, BENCHMARKS.md.
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


PT_T_DF_POWER = 0.5  # h > 1: Student-t critical values on N ** PT_T_DF_POWER degrees of freedom
EWC_NU_POWER = 1.0 / 3.0  # DM: N ** EWC_NU_POWER cosine projections of the loss differential ...
EWC_LAG_SPAN = 4  # ... and at most N / (EWC_LAG_SPAN h), so that an h-step MA(h-1) spectrum is flat there


def pesaran_timmermann(pred: np.ndarray, actual: np.ndarray, h: int = 1, feedback_correction: bool = True) -> dict:
    """Directional accuracy and the PT test of one forecast step. Zeros count as 'not up'.

    pred, actual (N,) in origin order. h = 1: the classic Pesaran & Timmermann (1992) statistic.
    h > 1: the h-step returns of neighbouring origins overlap, so the sign moment's variance is
    Hansen-Hodrick over h-1 lags (see `sign_moment_test`). feedback_correction: remove the small-sample
    bias of the chance rate P* (see `feedback_bias`); False gives the textbook statistic. Returns
    accuracy, statistic and the one-sided p-value (NaN when the test is undefined, e.g. every forecast
    has the same sign)."""
    if not isinstance(h, (int, np.integer)) or h < 1:
        raise ForecasterError(f"h={h!r} is invalid: accepted an integer >= 1 (the forecast step)")
    x = np.asarray(pred).ravel() > 0  # (N,) forecast up
    y = np.asarray(actual).ravel() > 0  # (N,) actual up
    n = len(x)
    if n == 0:
        return {"accuracy": math.nan, "pt_stat": math.nan, "pt_p": math.nan}
    p_hat = float(np.mean(x == y))
    if h > 1:
        return {"accuracy": p_hat, **sign_moment_test(x[:, None], y[:, None], lags=h - 1,
                                                      feedback_correction=feedback_correction)}
    py, px = float(np.mean(y)), float(np.mean(x))
    p_star = py * px + (1 - py) * (1 - px)
    var_p = p_star * (1 - p_star) / n
    var_star = ((2 * py - 1) ** 2 * px * (1 - px) / n + (2 * px - 1) ** 2 * py * (1 - py) / n
                + 4 * py * px * (1 - py) * (1 - px) / n**2)
    denom = var_p - var_star
    if denom <= 0:
        return {"accuracy": p_hat, "pt_stat": math.nan, "pt_p": math.nan}
    bias = 0.0
    if feedback_correction:  # P - P* = 2 mean((x - mean x)(y - mean y)): twice the moment's bias
        x_c, y_c = (x - px)[:, None], (y - py)[:, None]
        bias = 2.0 * feedback_bias(x_c, y_c)
    stat = (p_hat - p_star + bias) / math.sqrt(denom)
    return {"accuracy": p_hat, "pt_stat": stat, "pt_p": float(_sp.norm.sf(stat))}


def feedback_bias(x_c: np.ndarray, y_c: np.ndarray, lags: Optional[int] = None) -> float:
    """The small-sample bias of mean((x - mean x)(y - mean y)) under 'no skill', with the sign that undoes it.

    x_c, y_c (N, S) centred forecast and actual signs (zero where an entry does not count). A forecast
    made from past prices (a trend, a reversion to a mean) reacts to the returns it was scored on:
    x_{t+k} depends on y_t for k >= 1, while under H0 x_s and y_t are independent for s <= t. The
    product of the two sample means then carries -(1/N) sum_k (1 - k/N) c_k, c_k = cov(x_{t+k}, y_t),
    which pushes the statistic towards 'skill' (a reversion forecast on a random walk: about +0.1 sd,
    6.6% rejections at 5% instead of 5%). The c_k are estimated for k = 1..lags (default ceil(sqrt N));
    the returned (1/N) sum_k (1 - k/N) c_k is added to the moment."""
    n = x_c.shape[0]
    lags = int(math.ceil(math.sqrt(n))) if lags is None else int(lags)
    lags = min(max(lags, 0), n - 1)
    total = 0.0
    for k in range(1, lags + 1):
        c_k = float(np.sum(x_c[k:] * y_c[:-k])) / n  # forecasts k origins later against the actual at t
        total += (1.0 - k / n) * c_k
    return total / n


def sign_moment_test(x: np.ndarray, y: np.ndarray, lags: int, mask: Optional[np.ndarray] = None,
                     feedback_correction: bool = True) -> dict:
    """PT written as a moment test, with a HAC variance: robust to overlapping returns.

    x, y (N, S) booleans: forecast up, actual up, at N origins (in time order) and S steps; mask (N, S)
    the entries that count (default all). Hit rate minus its chance value is P - P* = 2 cov(x, y), so
    the PT test is a test of E[z] = 0 with z = (x - mean x)(y - mean y) (Pesaran & Timmermann 2009,
    JASA 104:325, show PT is the test of a zero slope of y on x). The per-origin moment
    m_t = sum over steps of z_t,s has, under H0 (the forecast carries no information about the
    future returns), no autocorrelation beyond lag h-1 for h-step returns, so its long-run variance
    is the sum of the autocovariances 0..lags with equal weights (Hansen & Hodrick 1980: the
    MA(lags) variance itself; Bartlett weights, Newey & West 1987, under-weight it and rejected 9-10%
    at 5% on 760 origins). Where that sum is not positive, Bartlett weights over 2 lags + 1 (always
    non-negative) stand in. feedback_correction removes the bias of `feedback_bias`. Statistic
    mean(m) / sqrt(LRV / N); the one-sided p-value from Student's t on sqrt(N) degrees of freedom when
    lags > 0 (the variance estimate's noise: the normal rejected 6.2-6.6% at 5% on 760 origins), the
    normal when lags = 0."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)  # (N, S)
    keep = np.ones(x.shape, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    cols = keep.sum(axis=0) > 0  # steps with at least one entry that counts
    x, y, keep = x[:, cols], y[:, cols], keep[:, cols]
    count = keep.sum(axis=0)  # (S,)
    if x.shape[0] < 2 or len(count) == 0:
        return {"pt_stat": math.nan, "pt_p": math.nan}
    x_c = np.where(keep, x - (x * keep).sum(axis=0) / count, 0.0)  # (N, S) centred, zero where not counted
    y_c = np.where(keep, y - (y * keep).sum(axis=0) / count, 0.0)
    m = (x_c * y_c).sum(axis=1)  # (N,)
    n = len(m)
    lrv = hansen_hodrick(m, lags)
    if not lrv > 0:
        lrv = newey_west(m, 2 * lags + 1)
    if not lrv > 1e-15 * max(1.0, float(np.mean(m**2))):  # every forecast or every actual the same sign
        return {"pt_stat": math.nan, "pt_p": math.nan}
    mean = float(m.mean()) + (feedback_bias(x_c, y_c) if feedback_correction else 0.0)
    stat = mean / math.sqrt(lrv / n)
    p = _sp.t.sf(stat, df=n**PT_T_DF_POWER) if lags > 0 else _sp.norm.sf(stat)
    return {"pt_stat": stat, "pt_p": float(p)}


def _autocovariances(series: np.ndarray, lags: int) -> np.ndarray:
    """Autocovariances 0..lags (lags+1,) of a (N,) series, divided by N; lags is clipped to 0..N-1."""
    z = np.asarray(series, dtype=np.float64)
    n = len(z)
    lags = int(min(max(lags, 0), n - 1))
    zc = z - z.mean()
    size = 1 << int(2 * n - 1).bit_length()  # zero-padded FFT: every autocovariance at once
    spec = np.fft.rfft(zc, size)
    return np.fft.irfft(spec * np.conj(spec), size)[: lags + 1] / n


def newey_west(series: np.ndarray, lags: int) -> float:
    """Long-run variance of a (N,) series: autocovariances 0..lags with Bartlett weights 1 - k/(lags+1)."""
    acov = _autocovariances(series, lags)
    weights = 1.0 - np.arange(1, len(acov)) / len(acov)
    return float(acov[0] + 2.0 * np.dot(weights, acov[1:]))


def hansen_hodrick(series: np.ndarray, lags: int) -> float:
    """Long-run variance of a (N,) MA(lags) series: autocovariances 0..lags with equal weights (may be <= 0)."""
    acov = _autocovariances(series, lags)
    return float(acov[0] + 2.0 * acov[1:].sum())


def ewc_projections(n: int, h: int = 1) -> int:
    """How many cosine projections diebold_mariano averages for N losses of h-step forecasts:
    floor(N ** EWC_NU_POWER), at most floor(N / (EWC_LAG_SPAN h)), at least 1."""
    return int(max(1, min(math.floor(n**EWC_NU_POWER + 1e-9), n // (EWC_LAG_SPAN * max(int(h), 1)), n - 1)))


def diebold_mariano(loss_model: np.ndarray, loss_base: np.ndarray, h: int, projections: Optional[int] = None) -> dict:
    """DM test with a fixed-smoothing long-run variance: equal-weighted cosine projections (EWC).

    loss_* (N,) per-origin losses, in time order. The long-run variance of d = loss_model - loss_base is
    the mean of the squares of its first nu type-II cosine transform coefficients (frequencies pi j / N,
    j = 1..nu; Mueller 2007, Lazarus, Lewis, Stock & Watson 2018, JBES 36:541); the statistic
    mean(d) / sqrt(LRV / N) is compared with Student's t on nu degrees of freedom (fixed-smoothing
    asymptotics, exact for Gaussian white noise). The estimate is a sum of squares, never negative,
    and needs no lag window: losses of volatility forecasts inherit the persistence of volatility,
    which h-1 lags (the old rectangular window with the HLN correction and a fall-back to the plain
    variance) missed, rejecting 11-17% at 5% on 762 GARCH origins. The EWC estimate is replaced by the
    Hansen-Hodrick one (autocovariances 0..h-1, equal weights: an h-step error is at most MA(h-1)) where
    that is larger, so a rejection needs both: on white-noise-like differentials of forecasts that react
    to past prices the projections alone rejected 9-10% at 5%. nu = projections, by default
    ewc_projections(N, h): N ** (1/3) (Coroneo & Iacone 2020, JAE 35:391, recommend that band for
    DM tests in samples of this size), and few enough that an MA(h-1) spectrum is flat over the band.
    Returns statistic (negative: the model has lower loss), the one-sided p-values for H1 "model
    better" (dm_p) and H1 "model worse" (dm_p_worse). NaN when the differential has
    no variance."""
    from scipy.fft import dct

    d = np.asarray(loss_model, dtype=np.float64) - np.asarray(loss_base, dtype=np.float64)
    n = len(d)
    nan = {"dm_stat": math.nan, "dm_p": math.nan, "dm_p_worse": math.nan}
    if n < 2 or h < 1:
        return nan
    nu = ewc_projections(n, h) if projections is None else int(min(max(projections, 1), n - 1))
    mean = float(d.mean())
    coef = dct(d - mean, type=2, norm="ortho")[1: nu + 1]  # (nu,) sqrt(2/N) sum_t d_t cos(pi j (t + 1/2) / N)
    long_run = max(float(np.mean(coef**2)), hansen_hodrick(d, h - 1))  # the larger: both tests must reject
    if not long_run > 1e-15 * max(1e-300, float(np.mean(d**2))):
        return nan
    stat = mean / math.sqrt(long_run / n)
    return {"dm_stat": stat, "dm_p": float(_sp.t.cdf(stat, df=nu)), "dm_p_worse": float(_sp.t.sf(stat, df=nu))}


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
    moments of the H steps summed per origin, Hansen-Hodrick with H-1 lags (sign_moment_test). The N x H
    overlapping returns are never counted as independent. H = 1: the classic step-1 test."""
    pred, actual = np.asarray(pred), np.asarray(actual)  # (N, H)
    if pred.shape[1] == 1:
        return _direction(pred[:, 0], actual[:, 0], 1)
    keep = pred != 0  # (N, H)
    if not np.any(keep):
        return {"directional_accuracy": math.nan, "pt_stat": math.nan, "pt_p": math.nan}
    hits = float(np.mean((pred[keep] > 0) == (actual[keep] > 0)))
    return {"directional_accuracy": hits, **sign_moment_test(pred > 0, actual > 0, lags=pred.shape[1] - 1, mask=keep)}


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjustment of p-values for a family of tests (NaN stays NaN): reject test i at
    level a when its adjusted p is below a; the family-wise error rate is then at most a."""
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(p.shape, math.nan)
    ok = np.flatnonzero(np.isfinite(p))
    order = ok[np.argsort(p[ok])]
    m = len(order)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out


def panel_diebold_mariano(losses_model: dict, losses_base: dict, h: int) -> dict:
    """DM test on the cross-sectional mean loss differential of several series: losses_* map a series
    name to a pandas Series of per-origin losses indexed by date; the dates common to every series
    are kept, d_t = mean over series of (model - base) at date t, and diebold_mariano tests it (the
    long-run variance of d_t absorbs the correlation across series and over time). Returns its
    result with "n" (common dates), "series" and "mean_diff"."""
    import pandas as pd

    names = sorted(losses_model)
    frame = pd.concat({k: losses_model[k] - losses_base[k] for k in names}, axis=1, join="inner").dropna()
    d = frame.mean(axis=1).to_numpy()
    out = diebold_mariano(d, np.zeros_like(d), h)
    return {**out, "n": int(len(d)), "series": names, "mean_diff": float(d.mean()) if len(d) else math.nan}
