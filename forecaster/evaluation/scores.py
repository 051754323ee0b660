"""Proper scores and calibration of predictive distributions on the backtest's origins.

Notation as in stats.py: N origins (in time order), H steps; `actual` (N, H) cumulative log returns
y_h = log(close_{t+h} / close_t); every score is in those units (x 1e4 for basis points).

Scores (lower is better, all proper):
    CRPS                 the distribution's own (closed form or exact, forecaster.probabilistic.distributions)
    pinball              rho_tau(y - q_tau) = max(tau u, (tau - 1) u), u = y - q_tau, averaged over
                         the levels QUANTILE_LEVELS (2 x the average over a dense uniform grid is the CRPS)
    interval score       Winkler / Gneiting & Raftery (2007, eq. 43) for the central interval of
                         coverage a, alpha = 1 - a: (u - l) + 2/alpha (l - y) 1{y < l} + 2/alpha (y - u) 1{y > u}

Calibration:
    coverage             share of outcomes inside the 80% and 95% central intervals
    by volatility        coverage within terciles of the volatility REGIME AT THE ORIGIN: the root mean
                         square of the `VOL_WINDOW` daily returns up to and including the origin's bar
                         (known when the forecast is made). Terciles are cut at the 1/3 and 2/3 quantiles
                         of that value over the test origins. Conditioning on something known at the
                         origin keeps a perfect forecaster at nominal coverage in every tercile;
                         conditioning on the outcome itself (e.g. |y_1|) would not: large outcomes
                         fall outside any honest interval more often.
    VaR tests            on the one-step 95% VaR: exceedance I_t = 1{y_1 < q_0.05} ("long": a long
                         position's loss) and 1{y_1 > q_0.95} ("short"). Kupiec (1995) proportion of
                         failures LR_pof ~ chi2(1); Christoffersen (1998) independence LR_ind ~ chi2(1)
                         from the first-order Markov transition counts of I_t; conditional coverage
                         LR_cc = LR_pof + LR_ind ~ chi2(2). 0 log 0 = 0.
    PIT                  u = F(y): counts in PIT_BINS equal bins and Pearson's chi-square test of
                         uniformity. For h > 1 the targets of neighbouring origins overlap, so u is
                         autocorrelated and the p-value is optimistic (too small); step 1 is the clean one.
    DM on CRPS           stats.diebold_mariano on per-origin CRPS (mean over steps overall, lags H-1;
                         per step h, lags h-1), both one-sided directions: p_better (H1: this model
                         has lower CRPS) and p_worse (H1: the other has lower CRPS).
"""

from __future__ import annotations

import math
from typing import Mapping, Optional, Sequence

import numpy as np
from scipy import special, stats as _sp

from forecaster.evaluation.stats import diebold_mariano
from forecaster.data.windows import trailing_mean_square
from forecaster.probabilistic.distributions import Distribution, pinball
from forecaster.errors import ForecasterError
from forecaster.probabilistic.intervals import LEVELS, QUANTILE_LEVELS, inside

VAR_LEVEL = 0.95  # one-step value-at-risk confidence
PIT_BINS = 10
VOL_WINDOW = 20  # daily returns in the realised-volatility regime measure at each origin
TERCILES = ("low", "mid", "high")


# ----------------------------------------------------------------------------- scores

def interval_score(y: np.ndarray, lower: np.ndarray, upper: np.ndarray, level: float) -> np.ndarray:
    """(N, H) Winkler score of the central interval [lower, upper] of coverage `level`."""
    alpha = 1.0 - level
    return (upper - lower) + 2.0 / alpha * (np.maximum(lower - y, 0.0) + np.maximum(y - upper, 0.0))


# ----------------------------------------------------------------------------- VaR exceedance tests

def kupiec(exceed: np.ndarray, p: float) -> dict:
    """Kupiec's proportion-of-failures test: exceed (T,) bools, p the expected exceedance rate."""
    i = np.asarray(exceed, dtype=bool)
    n, x = len(i), int(i.sum())
    if n == 0:
        return {"n": 0, "exceedances": 0, "rate": math.nan, "expected_rate": p, "lr_pof": math.nan, "p_pof": math.nan}
    rate = x / n
    log_null = special.xlogy(n - x, 1 - p) + special.xlogy(x, p)
    log_alt = special.xlogy(n - x, 1 - rate) + special.xlogy(x, rate)
    lr = float(max(-2.0 * (log_null - log_alt), 0.0))
    return {"n": n, "exceedances": x, "rate": rate, "expected_rate": p, "lr_pof": lr, "p_pof": float(_sp.chi2.sf(lr, 1))}


def christoffersen(exceed: np.ndarray, p: float) -> dict:
    """Christoffersen's independence and conditional-coverage tests on exceed (T,) bools in time order."""
    i = np.asarray(exceed, dtype=int)
    prev, cur = i[:-1], i[1:]
    n00, n01 = int(np.sum((prev == 0) & (cur == 0))), int(np.sum((prev == 0) & (cur == 1)))
    n10, n11 = int(np.sum((prev == 1) & (cur == 0))), int(np.sum((prev == 1) & (cur == 1)))
    counts = {"n00": n00, "n01": n01, "n10": n10, "n11": n11}
    total = n00 + n01 + n10 + n11
    if total == 0:
        return counts | {"lr_ind": math.nan, "p_ind": math.nan, "lr_cc": math.nan, "p_cc": math.nan}
    pi = (n01 + n11) / total
    pi0 = n01 / (n00 + n01) if n00 + n01 else 0.0
    pi1 = n11 / (n10 + n11) if n10 + n11 else 0.0
    log_null = special.xlogy(n00 + n10, 1 - pi) + special.xlogy(n01 + n11, pi)
    log_alt = (special.xlogy(n00, 1 - pi0) + special.xlogy(n01, pi0)
               + special.xlogy(n10, 1 - pi1) + special.xlogy(n11, pi1))
    lr_ind = float(max(-2.0 * (log_null - log_alt), 0.0))
    lr_cc = kupiec(i.astype(bool), p)["lr_pof"] + lr_ind
    return counts | {"pi0": pi0, "pi1": pi1, "lr_ind": lr_ind, "p_ind": float(_sp.chi2.sf(lr_ind, 1)),
                     "lr_cc": lr_cc, "p_cc": float(_sp.chi2.sf(lr_cc, 2))}


def var_tests(dist: Distribution, actual: np.ndarray, level: float = VAR_LEVEL) -> dict:
    """Kupiec and Christoffersen on the one-step VaR at `level`, for both tails."""
    q = dist.quantile([1 - level, level])[:, 0]  # (N, 2) step-1 quantiles
    y1 = np.asarray(actual)[:, 0]
    out = {}
    for side, exceed in (("long", y1 < q[:, 0]), ("short", y1 > q[:, 1])):
        out[side] = kupiec(exceed, 1 - level) | christoffersen(exceed, 1 - level)
    return out


# ----------------------------------------------------------------------------- calibration

def pit_histogram(u: np.ndarray, bins: int = PIT_BINS) -> dict:
    """Counts of PIT values u in `bins` equal bins of [0, 1] and the chi-square uniformity test."""
    u = np.asarray(u, dtype=np.float64).ravel()
    u = u[np.isfinite(u)]
    counts = np.histogram(np.clip(u, 0.0, 1.0), bins=bins, range=(0.0, 1.0))[0]
    if len(u) == 0:
        return {"counts": counts.tolist(), "chi2": math.nan, "p_value": math.nan}
    res = _sp.chisquare(counts)
    return {"counts": counts.tolist(), "chi2": float(res.statistic), "p_value": float(res.pvalue)}


def trailing_volatility(log_close: np.ndarray, origins: np.ndarray, window: int = VOL_WINDOW) -> np.ndarray:
    """(N,) root mean square of the last `window` daily log returns up to each origin row (NaN where
    fewer than `window` returns exist)."""
    r = np.diff(np.asarray(log_close, dtype=np.float64))  # origin row t has seen r_1..r_t = r[:t]
    return np.sqrt(trailing_mean_square(r, origins, window))


def volatility_from_actual(actual: np.ndarray, window: int = VOL_WINDOW) -> np.ndarray:
    """The regime measure from the outcomes alone, for consecutive daily origins: actual[k, 0] is the
    return into origin k+1's bar, so origin i has seen actual[i-window .. i-1, 0]. (N,), NaN for the
    first `window` origins (pass trailing_volatility from the prices to cover them)."""
    y1 = np.asarray(actual, dtype=np.float64)[:, 0]
    return np.sqrt(trailing_mean_square(y1, np.arange(len(y1)), window))


def tercile_edges(regime: np.ndarray) -> tuple[float, float]:
    ok = regime[np.isfinite(regime)]
    if len(ok) < 3:
        return math.nan, math.nan
    a, b = np.quantile(ok, [1 / 3, 2 / 3])
    return float(a), float(b)


def tercile_of(regime: np.ndarray) -> np.ndarray:
    """(N,) the tercile of each origin's volatility, 0 / 1 / 2 = TERCILES (edges: tercile_edges);
    -1 where the regime is NaN, and everywhere when there are too few origins for edges."""
    regime = np.asarray(regime, dtype=np.float64)
    a, b = tercile_edges(regime)
    if not (math.isfinite(a) and math.isfinite(b)):
        return np.full(regime.shape, -1)
    return np.select([~np.isfinite(regime), regime <= a, regime <= b], [-1, 0, 1], 2)


def coverage_by_regime(inside: np.ndarray, regime: np.ndarray) -> list:
    """inside (N, H) bools, regime (N,) -> one row per tercile: its bounds, origins and coverage
    (pooled over steps). Origins with a NaN regime are left out."""
    a, b = tercile_edges(regime)
    tercile = tercile_of(regime)
    rows = []
    for t, (name, lo, hi) in enumerate(zip(TERCILES, (-np.inf, a, b), (a, b, np.inf))):
        sel = tercile == t
        rows.append({"tercile": name, "vol_from": None if lo == -np.inf else float(lo),
                     "vol_to": None if hi == np.inf else float(hi), "n": int(sel.sum()),
                     "coverage": float(inside[sel].mean()) if sel.any() else math.nan,
                     "coverage_step1": float(inside[sel, 0].mean()) if sel.any() else math.nan})
    return rows


# ----------------------------------------------------------------------------- everything per model

def _scores(dist: Distribution, actual: np.ndarray, quantiles, levels) -> dict:
    """Per-origin, per-step arrays of one model: crps, pinball, interval scores, insides, PIT."""
    out = {"crps": dist.crps(actual), "pit": dist.cdf(actual),
           "pinball": pinball(actual, dist.quantile(quantiles), quantiles).mean(axis=-1)}  # (N, H) each
    for level in levels:
        lo, hi = dist.interval(level)
        pct = round(level * 100)
        out[f"interval_score_{pct}"] = interval_score(actual, lo, hi, level)
        out[f"inside_{pct}"] = inside(actual, lo, hi)
        out[f"width_{pct}"] = hi - lo
    return out


def dm_both(loss: np.ndarray, other: np.ndarray, h: int) -> dict:
    """The DM test of loss against other (h-step losses) both ways: {"dm_stat", "p_better", "p_worse"}."""
    better = diebold_mariano(loss, other, h)
    return {"dm_stat": better["dm_stat"], "p_better": better["dm_p"], "p_worse": diebold_mariano(other, loss, h)["dm_p"]}


def probabilistic_stats(dists: Mapping[str, Distribution], actual: np.ndarray,
                        regime: Optional[np.ndarray] = None, quantiles: Sequence[float] = QUANTILE_LEVELS,
                        levels: Sequence[float] = LEVELS, var_level: float = VAR_LEVEL,
                        against: Optional[Sequence[str]] = None) -> dict:
    """Scores and calibration of every model's predictive distribution on the same origins.

    dists: name -> distribution (N, H); actual (N, H); regime (N,) the volatility at each origin
    (default: volatility_from_actual(actual), which assumes consecutive daily origins); against:
    the models every model is DM-tested against on CRPS (default: all the others).
    Returns a JSON-serialisable dict: {"settings", "notes", "models": {name: {"overall", "per_step",
    "coverage_by_volatility", "var", "pit", "dm_crps"}}}."""
    actual = np.asarray(actual, dtype=np.float64)
    if actual.ndim != 2 or not dists:
        raise ForecasterError(f"probabilistic_stats needs distributions and actual (origins, steps); got "
                              f"{len(dists)} models and actual of shape {actual.shape}")
    for name, d in dists.items():
        if tuple(d.shape) != actual.shape:
            raise ForecasterError(f"model {name}: distribution of shape {d.shape}, outcomes {actual.shape}")
    against = list(dists) if against is None else list(against)
    unknown = [a for a in against if a not in dists]
    if unknown:
        raise ForecasterError(f"DM reference models {unknown} not among the models scored: {list(dists)}")
    regime_note = "given by the caller"
    if regime is None:
        regime, regime_note = volatility_from_actual(actual), f"rms of the {VOL_WINDOW} step-1 outcomes before each origin"
    regime = np.asarray(regime, dtype=np.float64)
    if regime.shape != (actual.shape[0],):
        raise ForecasterError(f"regime must hold one value per origin ({actual.shape[0]}), got shape {regime.shape}")
    n, horizon = actual.shape
    scores = {name: _scores(d, actual, quantiles, levels) for name, d in dists.items()}
    pcts = [round(level * 100) for level in levels]
    models = {}
    for name, s in scores.items():
        overall = {"crps": float(s["crps"].mean()), "pinball": float(s["pinball"].mean())}
        for pct in pcts:
            overall[f"interval_score_{pct}"] = float(s[f"interval_score_{pct}"].mean())
            overall[f"coverage_{pct}"] = float(s[f"inside_{pct}"].mean())
            overall[f"width_{pct}"] = float(s[f"width_{pct}"].mean())
        steps = []
        for h in range(horizon):
            row = {"step": h + 1, "crps": float(s["crps"][:, h].mean()), "pinball": float(s["pinball"][:, h].mean())}
            for pct in pcts:
                row[f"interval_score_{pct}"] = float(s[f"interval_score_{pct}"][:, h].mean())
                row[f"coverage_{pct}"] = float(s[f"inside_{pct}"][:, h].mean())
                row[f"width_{pct}"] = float(s[f"width_{pct}"][:, h].mean())
            row["pit"] = pit_histogram(s["pit"][:, h])
            steps.append(row)
        dm = {}
        for other in against:
            if other == name:
                continue
            o = scores[other]["crps"]
            dm[other] = {"overall": dm_both(s["crps"].mean(axis=1), o.mean(axis=1), horizon),
                         "per_step": [{"step": h + 1} | dm_both(s["crps"][:, h], o[:, h], h + 1)
                                      for h in range(horizon)]}
        models[name] = {
            "overall": overall, "per_step": steps,
            "coverage_by_volatility": {str(pct): coverage_by_regime(s[f"inside_{pct}"], regime) for pct in pcts},
            "var": var_tests(dists[name], actual, var_level),
            "pit": steps[0]["pit"],
            "dm_crps": dm,
        }
    return {
        "settings": {"n_origins": int(n), "horizon": int(horizon), "quantiles": [float(q) for q in quantiles],
                     "levels": [float(level) for level in levels], "var_level": float(var_level),
                     "pit_bins": PIT_BINS, "volatility_regime": regime_note},
        "notes": ["scores are in cumulative log-return units; lower is better",
                  "coverage by volatility: terciles of the realised volatility known at each origin",
                  f"VaR tests on the step-1 {round(var_level * 100)}% quantiles: long = below the lower, short = above the upper",
                  "PIT p-values for steps > 1 are optimistic: overlapping targets make the PIT autocorrelated",
                  "DM on CRPS: p_better one-sided for H1 'this model has lower CRPS', p_worse for the reverse"],
        "models": models,
    }
