"""Risk models: the volatility models practitioners use, as forecast models (BacktestModel).

Each forecasts a mean of 0 (the random walk's: no view on direction) and a predictive distribution
of the cumulative log return y_h = log(close_{t+h} / close_t), h = 1..H, whose width follows the
market. Daily log returns r_t = log(close_t / close_{t-1}) are assumed to have mean zero (every
variance below is a mean of squares, not of squared deviations), and the variance of a sum over
steps 1..h is the sum of the per-step variances (returns uncorrelated).

    ConstantT       a Student-t of constant scale per step fitted on the training rows (the control)
    HistoricalVol   sigma_t^2 = mean of the last `window` squared returns up to t; the h-step
                    distribution is sigma_t sqrt(h) times either a standard normal (dist="normal") or
                    the empirical distribution of standardised h-step returns on the training rows,
                    z = (p_{i+h} - p_i) / (sigma_i sqrt(h)) (dist="empirical": fat tails, skew).
                    A flat stretch (FLAT_RUN or more unchanged closes in a row: a peg, a provider's flat
                    fill) is no market: its zero returns are left out of every window, and training
                    origins with fewer than MIN_RETURNS moving returns behind them are skipped (their
                    sigma would be 0 or tiny and z infinite or huge); the skip is logged
    EWMA            RiskMetrics (J.P. Morgan 1996): sigma_{t+1}^2 = lam sigma_t^2 + (1 - lam) r_t^2,
                    lam = 0.94, started at the mean squared training return; Gaussian, variance h sigma^2
    GarchT          GARCH(1,1) with Student-t errors from the `arch` package, fitted by maximum
                    likelihood on the training rows (returns x 100: arch's optimiser works best on
                    percent returns; variances are scaled back by 1e-4). At the origins the fitted
                    parameters are fixed (arch's `fix`) and the variance filtered forward over the
                    series up to the last origin: one O(T) pass per fold, no refit per origin. The
                    per-step variances come from arch's analytic forecast; the h-step distribution is
                    a Student-t with the fitted df scaled to their sum (exact at h = 1; the sum of
                    GARCH-t returns has no closed form, so h > 1 is a moment-matched approximation).
                    GarchT(asymmetric=True): GJR-GARCH(1,1)-t (Glosten, Jagannathan and Runkle 1993;
                    arch's o=1): a negative return adds gamma r^2 to the next variance (leverage); the
                    anchored model's combination partner. GarchT(long_memory=True): FIGARCH(1,d,1)-t
                    (Baillie, Bollerslev and Mikkelsen 1996; arch's FIGARCH): the variance reacts to past
                    squares with hyperbolically decaying weights (long memory), the same 5 parameters.

The backtest fits every model on its training History at each fold and forecasts from each origin;
the filters here read only returns up to each origin (tests plant shocks after an origin to check).

Beyond the contract's fit / forecast (one distribution call per batch of origins):
    distribution(histories)  -> Distribution (N, H), one per History, in order
    scale_path(history)      -> (T-1,) the one-step scale known before each return of the history
                                (sigma_k for r_k, having seen r_1..r_{k-1}), for models that use a
                                risk model as an input or an anchor
    params                   the fitted parameters (a dict)
"""

from __future__ import annotations

import logging
import warnings
from typing import Sequence

import numpy as np
from scipy.signal import lfilter

from forecaster.data.history import History
from forecaster.probabilistic.distributions import Distribution, Empirical, Predictive, t_scale
from forecaster.errors import ForecasterError
from forecaster.probabilistic.contract import BacktestModel, ModelForecast

WINDOW = 250  # historical volatility: returns in the rolling window (about a trading year)
LAMBDA = 0.94  # EWMA decay for daily data (RiskMetrics 1996)
MIN_RETURNS = 20  # returns needed before any volatility is formed
EMPIRICAL_SIZE = 1000  # the standardised training sample is kept as this many quantiles per step
PCT = 100.0  # arch is fitted on returns in percent
MIN_ORIGINS = 50  # training origins the empirical historical volatility needs to form its quantiles
FLAT_RUN = 5  # this many unchanged closes in a row are a flat stretch (a peg, a flat fill), not a calm market

log = logging.getLogger(__name__)


def _returns_at(histories: Sequence[History], start: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """One pass over the longest history: daily returns r (T,) from row `start` (or the latest
    history start, if later) on, and for each history the number of those returns it may see
    (its origin row - start), (N,)."""
    if not histories:
        raise ForecasterError("no forecast origins given")
    start = max(start, max(h.start for h in histories))
    last = max(histories, key=lambda h: h.cutoff)
    p = last.log_close()[start - last.start :]  # rows start..max cutoff
    seen = np.array([h.cutoff - start for h in histories])  # returns r_1..r_k visible at each origin
    return np.diff(p), seen


def _moving(r: np.ndarray) -> np.ndarray:
    """(T,) False for the returns of a flat stretch (a run of FLAT_RUN or more zero returns), else True."""
    zero = np.concatenate([[0], (r == 0).astype(np.int8), [0]])
    edges = np.flatnonzero(np.diff(zero))  # where runs of zeros start and end, alternately
    keep = np.ones(len(r), dtype=bool)
    for first, stop in zip(edges[::2], edges[1::2]):
        if stop - first >= FLAT_RUN:
            keep[first:stop] = False
    return keep


def _rolling_var(r: np.ndarray, seen: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean of the squared moving returns (_moving) among the last min(window, k) of the first k, for each
    k in seen, and how many moving returns that is (N,); the mean is 0 where there are none."""
    keep = _moving(r)
    c = np.concatenate([[0.0], np.cumsum(np.where(keep, r**2, 0.0))])  # (T+1,)
    m = np.concatenate([[0], np.cumsum(keep)])  # (T+1,)
    n = np.minimum(window, seen)
    count = m[seen] - m[seen - n]
    return (c[seen] - c[seen - n]) / np.maximum(count, 1), count


class _RiskModel(BacktestModel):
    probabilistic = True

    def distribution(self, histories: Sequence[History]) -> Distribution:
        raise NotImplementedError

    def forecast(self, histories: Sequence[History]) -> ModelForecast:
        """Mean 0 (no view on direction) and the central intervals of the one distribution call."""
        return ModelForecast.from_distribution(self.distribution(histories))

    def _need(self, seen: np.ndarray) -> None:
        if seen.min() < MIN_RETURNS:
            raise ForecasterError(f"{self.name} needs at least {MIN_RETURNS} returns before a forecast origin, "
                                  f"got {int(seen.min())}: start the test period later")

    def _steps(self) -> np.ndarray:
        return np.arange(1, self.horizon + 1, dtype=np.float64)  # (H,)


class HistoricalVol(_RiskModel):
    DISTS = ("normal", "empirical")

    def __init__(self, horizon: int, window: int = WINDOW, dist: str = "normal",
                 n_samples: int = EMPIRICAL_SIZE):
        if not isinstance(window, int) or window < 2:
            raise ForecasterError(f"historical volatility window={window!r} invalid: accepted an integer >= 2")
        if dist not in self.DISTS:
            raise ForecasterError(f"historical volatility dist={dist!r} unknown: accepted {', '.join(self.DISTS)}")
        super().__init__(horizon)
        self.window, self.dist, self.n_samples = window, dist, n_samples
        self.name = "hist_vol" if dist == "normal" else "hist_vol_empirical"
        self.samples = None  # (H, n_samples) standardised h-step returns of the training rows
        self.skipped = 0  # training origins left out of the last fit: a flat stretch behind them (FLAT_RUN)

    def check(self, history: History) -> None:
        """Raise, naming the model, the dates and the fix, where fit on this history would fail: cheap,
        so that the backtest can ask before any model's long training."""
        if self.dist == "empirical":
            self._standardised(history)

    def _standardised(self, history: History) -> tuple[np.ndarray, np.ndarray]:
        """Rows whose trailing volatility is usable, and their standardised h-step moves z (n, H):
        origins with fewer than MIN_RETURNS moving returns in their window (a flat stretch behind
        them) are skipped."""
        p = history.log_close()  # (T,)
        r = np.diff(p)
        origins = np.arange(MIN_RETURNS, len(p) - self.horizon)  # rows with a window behind, H steps ahead
        if len(origins) < MIN_ORIGINS:
            raise ForecasterError(f"{self.name} needs at least {MIN_ORIGINS + MIN_RETURNS + self.horizon} training "
                                  f"rows, got {len(p)}")
        var, count = _rolling_var(r, origins, self.window)  # (n,), (n,)
        usable = (count >= MIN_RETURNS) & (var > 0)
        if usable.sum() < MIN_ORIGINS:
            dates = history.series().frame.index  # (T,)
            flat = np.flatnonzero(~_moving(r))  # returns of the flat stretches, r_i = p_{i+1} - p_i
            flat = flat if len(flat) else np.array([0, len(r) - 1])  # no long run: the closes barely move overall
            raise ForecasterError(
                f"{self.name}: the training rows up to {history.date.date()} hold {int(usable.sum())} origins with "
                f"{MIN_RETURNS} moving returns behind them, {MIN_ORIGINS} are needed (the closes do not move from "
                f"{dates[flat[0]].date()} to {dates[flat[-1] + 1].date()}): start the data after the flat stretch "
                f"(--start), start the test later, or leave the risk models out (--no-risk-models)")
        origins, sigma = origins[usable], np.sqrt(var[usable])
        move = p[origins[:, None] + np.arange(1, self.horizon + 1)] - p[origins][:, None]  # (n, H)
        return origins, move / (sigma[:, None] * np.sqrt(self._steps()))

    def fit(self, history: History) -> None:
        if self.dist == "normal":
            return
        origins, z = self._standardised(history)  # (n,), (n, H)
        skipped = len(history) - MIN_RETURNS - self.horizon - len(origins)
        if skipped and not self.skipped:
            log.warning(f"{self.name}: {skipped} training origins up to {history.date.date()} skipped: fewer than "
                        f"{MIN_RETURNS} moving returns behind them (a flat stretch of {FLAT_RUN}+ unchanged closes)")
        self.skipped = skipped
        grid = (np.arange(self.n_samples) + 0.5) / self.n_samples
        self.samples = np.quantile(z, grid, axis=0).T  # (H, M)

    @property
    def params(self) -> dict:
        return {"window": self.window}

    def scale_path(self, history: History) -> np.ndarray:
        """(T-1,) the root mean square of the (at most `window`) returns before each return; NaN for the first."""
        r = np.diff(history.log_close())
        seen = np.arange(len(r))  # returns visible before r_k
        sigma = np.sqrt(_rolling_var(r, seen, self.window)[0])
        sigma[:1] = np.nan  # nothing is seen before the first return
        return sigma

    def distribution(self, histories: Sequence[History]) -> Distribution:
        r, seen = _returns_at(histories)
        self._need(seen)
        var, _ = _rolling_var(r, seen, self.window)  # (N,)
        sigma = np.sqrt(var)
        if not np.all(sigma > 0):
            flat = histories[int(np.flatnonzero(~(sigma > 0))[0])]
            raise ForecasterError(f"{self.name}: the {min(self.window, len(flat) - 1)} closes up to {flat.date.date()} "
                                  "are all unchanged, so their volatility is 0 and no distribution can be formed: "
                                  "start the test after the flat stretch, or leave the risk models out (--no-risk-models)")
        scale = sigma[:, None] * np.sqrt(self._steps())  # (N, H)
        if self.dist == "normal":
            return Predictive(np.zeros_like(scale), scale)
        if self.samples is None:
            raise ForecasterError(f"{self.name}: predict called before fit")
        return Empirical(np.zeros_like(scale), scale, self.samples)


class EWMA(_RiskModel):
    def __init__(self, horizon: int, lam: float = LAMBDA):
        if not 0 < lam < 1:
            raise ForecasterError(f"EWMA lambda={lam!r} invalid: accepted a decay in (0, 1), e.g. 0.94")
        super().__init__(horizon)
        self.name, self.lam = "ewma", lam
        self.start_var = None  # variance before the first return: the mean squared training return

    def fit(self, history: History) -> None:
        r = np.diff(history.log_close())
        if len(r) < MIN_RETURNS:
            raise ForecasterError(f"EWMA needs at least {MIN_RETURNS + 1} training rows, got {len(r) + 1}")
        self.start_var = float(np.mean(r**2))

    def variances(self, r: np.ndarray) -> np.ndarray:
        """(T,) sigma^2_{k+1}: the variance for the return after r_k, having seen r_1..r_k."""
        lam = self.lam
        return lfilter([1.0 - lam], [1.0, -lam], r**2, zi=[lam * self.start_var])[0]

    @property
    def params(self) -> dict:
        return {"lambda": self.lam, "start_var": self.start_var}

    def scale_path(self, history: History) -> np.ndarray:
        """(T-1,) the EWMA standard deviation before each return of the history."""
        if self.start_var is None:
            raise ForecasterError("EWMA: scale_path called before fit")
        var = self.variances(np.diff(history.log_close()))  # var[k] is for the return after r_k
        return np.sqrt(np.concatenate([[self.start_var], var[:-1]]))

    def distribution(self, histories: Sequence[History]) -> Distribution:
        if self.start_var is None:
            raise ForecasterError("EWMA: predict called before fit")
        r, seen = _returns_at(histories)
        self._need(seen)
        var = self.variances(r)[seen - 1]  # (N,)
        scale = np.sqrt(var[:, None] * self._steps())  # (N, H)
        return Predictive(np.zeros_like(scale), scale)


class GarchT(_RiskModel):
    def __init__(self, horizon: int, asymmetric: bool = False, long_memory: bool = False):
        super().__init__(horizon)
        if asymmetric and long_memory:
            raise ForecasterError("GarchT is GJR-GARCH (asymmetric) or FIGARCH (long_memory), not both")
        self.asymmetric = asymmetric  # GJR-GARCH(1,1)-t: a negative return adds gamma r^2 to the variance
        self.long_memory = long_memory  # FIGARCH(1,d,1)-t: fractionally integrated, long memory in the variance
        self.name = "gjr_t" if asymmetric else "figarch_t" if long_memory else "garch_t"
        self.label = {"gjr_t": "GJR-GARCH(1,1)-t", "figarch_t": "FIGARCH(1,d,1)-t", "garch_t": "GARCH(1,1)-t"}[self.name]
        self.fitted = None  # omega, alpha[1] or phi, (gamma[1] or d,) beta[1], nu (returns in percent)
        self.fit_start = 0  # row where the training returns (and so the filter) begin

    @classmethod
    def named(cls, horizon: int, name: str) -> "GarchT":
        """The unfitted model of `name`: "garch_t", "gjr_t" or "figarch_t"."""
        return cls(horizon, asymmetric=name == "gjr_t", long_memory=name == "figarch_t")

    def _spec(self, r_pct: np.ndarray):
        from arch import arch_model

        if self.long_memory:
            return arch_model(r_pct, mean="Zero", vol="FIGARCH", p=1, q=1, dist="t", rescale=False)
        return arch_model(r_pct, mean="Zero", vol="GARCH", p=1, o=int(self.asymmetric), q=1, dist="t", rescale=False)

    def fit(self, history: History) -> None:
        r = np.diff(history.log_close()) * PCT
        if len(r) < 100:
            raise ForecasterError(f"{self.label} needs at least 101 training rows, got {len(r) + 1}")
        with warnings.catch_warnings():  # convergence is recorded in fit_log instead of warned about
            warnings.simplefilter("ignore")
            res = self._spec(r).fit(disp="off", show_warning=False)
        if not np.all(np.isfinite(res.params)) or res.params.iloc[-1] <= 2.0:
            raise ForecasterError(f"{self.label} fit failed on {len(r)} training returns up to {history.date.date()}: "
                                  f"{res.optimization_result.message}")
        self.fitted, self.fit_start = res.params.to_numpy(), history.start
        self.fit_log.append({"train_last": str(history.date.date()), "converged": bool(res.convergence_flag == 0),
                             "message": str(res.optimization_result.message),
                             "params": {k: float(v) for k, v in res.params.items()},
                             "loglik": float(res.loglikelihood)})

    @property
    def df(self) -> float:
        return float(self.fitted[-1])

    @property
    def params(self) -> dict:
        return self.fit_log[-1]["params"] if self.fit_log else {}

    def scale_path(self, history: History) -> np.ndarray:
        """(T-1,) the GARCH conditional standard deviation of each return of the history (filtered with
        the fitted parameters from the training start on; NaN before it)."""
        if self.fitted is None:
            raise ForecasterError("GARCH: scale_path called before fit")
        r = np.diff(history.log_close())
        out = np.full(len(r), np.nan)
        first = max(self.fit_start - history.start, 0)
        out[first:] = self._spec(r[first:] * PCT).fix(self.fitted).conditional_volatility / PCT
        return out

    def distribution(self, histories: Sequence[History]) -> Distribution:
        if self.fitted is None:
            raise ForecasterError("GARCH: predict called before fit")
        r, seen = _returns_at(histories, start=self.fit_start)
        self._need(seen)
        fixed = self._spec(r * PCT).fix(self.fitted)
        first = int(seen.min()) - 1  # return index of the earliest origin
        per_step = fixed.forecast(horizon=self.horizon, start=first, reindex=False).variance.to_numpy()  # (T-first, H)
        var = np.cumsum(per_step[seen - 1 - first], axis=1) / PCT**2  # (N, H) cumulative variance
        nu = self.df
        scale = t_scale(np.sqrt(var), nu)  # arch's t has unit variance; scipy's t has scale 1
        return Predictive(np.zeros_like(scale), scale, nu)


class ConstantT(_RiskModel):
    """A Student-t of constant scale per step, fitted by maximum likelihood (location 0, scipy) to the
    overlapping h-step returns of the training rows: the reference of a market with nothing to learn
    (the oracle benchmark's i.i.d. control)."""

    name = "constant_t"

    def __init__(self, horizon: int):
        super().__init__(horizon)
        self.fitted = None  # per step: (df, 0, scale)

    def fit(self, history: History) -> None:
        from scipy import stats

        p = history.log_close()
        self.fitted = [stats.t.fit(p[h:] - p[:-h], floc=0.0) for h in range(1, self.horizon + 1)]

    @property
    def params(self) -> dict:
        return {} if self.fitted is None else {"df": [f[0] for f in self.fitted], "scale": [f[2] for f in self.fitted]}

    def distribution(self, histories: Sequence[History]) -> Distribution:
        if self.fitted is None:
            raise ForecasterError("constant t: predict called before fit")
        df, _, scale = (np.array(v) for v in zip(*self.fitted))  # (H,) each
        shape = (len(histories), self.horizon)
        return Predictive(np.zeros(shape), np.broadcast_to(scale, shape).copy(), np.broadcast_to(df, shape).copy())


def default_risk_models(horizon: int) -> list:
    """The risk models every backtest shows: historical volatility (normal and empirical), EWMA, GARCH(1,1)-t
    (the reference of every verdict) and GJR-GARCH(1,1)-t (the default combination's partner, alone)."""
    return [HistoricalVol(horizon), HistoricalVol(horizon, dist="empirical"), EWMA(horizon), GarchT(horizon),
            GarchT(horizon, asymmetric=True)]


