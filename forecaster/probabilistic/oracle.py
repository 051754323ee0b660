"""The oracle's scores: the CRPS of the true conditional distribution of a simulated market.

Step 1 is exact: the one-step conditional distribution of every simulated market
(forecaster.probabilistic.markets) is a zero-mean scale mixture of Student-t or normal laws,
`ScaleMixture`, whose CRPS has a closed form (below). Steps 2..H are by Monte Carlo: M paths of the
next H returns drawn from the market's own recursion from the state at each origin, their cumulative
sums scored against the realised cumulative return with the fair (unbiased) CRPS estimator

    CRPS_M(y) = 1/M sum_i |X_i - y|  -  1/(2 M (M - 1)) sum_{i != j} |X_i - X_j|       (X_i the draws)

whose expectation is the CRPS of the true distribution (the plain ensemble CRPS, 1/(2 M^2), is biased
upwards by E|X - X'| / (2M)). The pair sum is formed from the sorted draws in O(M log M):
sum_{i, j} |X_i - X_j| = 2 sum_k (2k - M - 1) X_(k), k = 1..M. The Monte Carlo standard error of the
mean CRPS over origins comes from splitting the M draws into `BATCHES` groups (draws at different
origins are independent, so the per-origin variances add).

Targets are the backtest's (forecaster.backtest.walkforward): the cumulative log return
y_h = log(close_{t+h} / close_t) = r_t + ... + r_{t+h-1} from origin row t (markets.py: timing).

Closed forms (zero means, z = y / s):
    one t or normal law    s * crps_student_t(z, df)                     (forecaster.probabilistic.distributions)
    normal mixture         sum_k w_k A(y, s_k) - 1/2 sum_{k,l} w_k w_l E|N(0, s_k^2 + s_l^2)|,
                           A(y, s) = E|N(0, s^2) - y| = s (crps_normal(z) + 1/sqrt(pi)),
                           E|N(0, v)| = sqrt(2 v / pi)               (Grimit et al. 2006, QJRMS 132)

Gap closed (how much of the learnable distribution a model learns, issue 19):
    gap_closed = (CRPS hist_vol - CRPS model) / (CRPS hist_vol - CRPS oracle), each a mean over the
    same origins (and seeds: pool them by concatenating the origins): 0 = no better than
    historical volatility, 1 = the true distribution.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Optional

import numpy as np
from scipy import stats

from forecaster.probabilistic.distributions import Predictive, crps_normal, crps_student_t
from forecaster.errors import ForecasterError

N_PATHS = 2000  # Monte Carlo paths per origin (the default; oracle_scores raises it to reach the precision asked)
MAX_PATHS = 64000  # the most paths per origin oracle_scores will draw to reach that precision
GAP_TOLERANCE = 0.1  # Monte Carlo standard error at most this share of the hist-vol-to-oracle gap
BATCHES = 8  # groups of draws for the Monte Carlo variance
CHUNK_DRAWS = 2_000_000  # origins x paths x steps drawn at once (memory: a few arrays of this many floats)
QUANTILE_ITERATIONS = 80  # bisection steps of ScaleMixture.quantile (the interval halves each step)


@dataclass
class ScaleMixture:
    """Y = s_K T_df with probability w_K (location 0): K scales of one Student-t law (df > 1; df = inf:
    normal, s the standard deviation), mixed with weights w summing to 1 over the last axis.

    weights, scales (..., K): any leading shape (T times, or T times and P pairs). K = 1 is a plain
    location-0 t or normal; the CRPS has a closed form for K = 1 or df = inf."""

    weights: np.ndarray  # (..., K)
    scales: np.ndarray  # (..., K) > 0
    df: float = math.inf

    def __post_init__(self) -> None:
        self.weights = np.asarray(self.weights, dtype=np.float64)
        self.scales = np.asarray(self.scales, dtype=np.float64)
        if self.weights.shape != self.scales.shape or self.weights.ndim < 2:
            raise ForecasterError(f"mixture weights {self.weights.shape} and scales {self.scales.shape} must have "
                                  f"one shape (..., K)")
        if not np.all(self.scales > 0) or not np.allclose(self.weights.sum(-1), 1.0):
            raise ForecasterError("mixture scales must be > 0 and the weights of each distribution sum to 1")
        if not self.df > 1:
            raise ForecasterError(f"degrees of freedom {self.df!r} invalid: accepted df > 1 (inf = normal)")

    @property
    def shape(self) -> tuple:
        return self.weights.shape[:-1]

    def __getitem__(self, rows) -> "ScaleMixture":
        return ScaleMixture(self.weights[rows], self.scales[rows], self.df)

    def _z(self, y) -> np.ndarray:
        return np.asarray(y, dtype=np.float64)[..., None] / self.scales  # (..., K)

    def cdf(self, y) -> np.ndarray:
        return np.sum(self.weights * stats.t.cdf(self._z(y), self.df), axis=-1)

    def std(self) -> np.ndarray:
        factor = 1.0 if math.isinf(self.df) else (math.sqrt(self.df / (self.df - 2)) if self.df > 2 else math.inf)
        return np.sqrt(np.sum(self.weights * self.scales**2, axis=-1)) * factor

    def quantile(self, levels) -> np.ndarray:
        """(..., Q) quantiles at levels (Q,) in (0, 1), by bisection between the components' own."""
        q = np.atleast_1d(np.asarray(levels, dtype=np.float64))
        if not np.all((q > 0) & (q < 1)):
            raise ForecasterError(f"probability levels {q.tolist()} are invalid: accepted numbers in (0, 1)")
        own = stats.t.ppf(q, self.df)[:, None] * self.scales[..., None, :]  # (..., Q, K): the quantile lies among these
        lo, hi = own.min(-1), own.max(-1)
        for _ in range(QUANTILE_ITERATIONS):
            mid = (lo + hi) / 2
            below = np.sum(self.weights[..., None, :] * stats.t.cdf(mid[..., None] / self.scales[..., None, :],
                                                                    self.df), -1) < q
            lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
        return (lo + hi) / 2

    def crps(self, y) -> np.ndarray:
        """The exact CRPS at outcomes y of the mixture's shape."""
        y = np.asarray(y, dtype=np.float64)
        if self.weights.shape[-1] == 1:
            return self.scales[..., 0] * crps_student_t(y / self.scales[..., 0], self.df)
        if not math.isinf(self.df):
            raise ForecasterError("the CRPS of a mixture of Student-t laws has no closed form here: only K = 1 or "
                                  "normal mixtures (df = inf)")
        w, s = self.weights, self.scales
        z = self._z(y)
        to_outcome = np.sum(w * s * (crps_normal(z) + 1.0 / math.sqrt(math.pi)), axis=-1)  # sum_k w_k E|X_k - y|
        pair_var = s[..., :, None] ** 2 + s[..., None, :] ** 2  # (..., K, K)
        spread = np.sum(w[..., :, None] * w[..., None, :] * np.sqrt(2.0 * pair_var / math.pi), axis=(-2, -1))
        return to_outcome - spread / 2.0

    def to_predictive(self) -> Predictive:
        """A single law (K = 1) of shape (T,) as the backtest's Predictive of shape (T, 1)."""
        if self.weights.shape[-1] != 1 or len(self.shape) != 1:
            raise ForecasterError("only a single t or normal law per origin, of shape (T,), is a Predictive")
        return Predictive(np.zeros((self.shape[0], 1)), self.scales[:, :1], self.df)


def fair_crps(draws: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The unbiased CRPS estimate from M >= 2 draws (..., M) of the outcomes y (...)."""
    x = np.sort(np.asarray(draws, dtype=np.float64), axis=-1)
    m = x.shape[-1]
    if m < 2:
        raise ForecasterError(f"the fair CRPS needs at least 2 draws, got {m}")
    to_outcome = np.mean(np.abs(x - np.asarray(y, dtype=np.float64)[..., None]), axis=-1)
    pair_sum = 2.0 * (x @ (2.0 * np.arange(1, m + 1) - m - 1))  # sum over i, j of |X_i - X_j|
    return to_outcome - pair_sum / (2.0 * m * (m - 1))


@dataclass
class OracleScores:
    """The oracle's CRPS at N origins and H steps (and P pairs for a multi-pair market)."""

    crps: np.ndarray  # (N, H[, P]) step 1 exact, steps 2..H the Monte Carlo estimate
    se: np.ndarray  # (H[, P]) Monte Carlo standard error of crps.mean(0) (0 at the exact step 1)
    actual: np.ndarray  # (N, H[, P]) the targets scored: cumulative log returns from each origin
    n_paths: int  # Monte Carlo paths per origin
    mc_step1: Optional[np.ndarray] = None  # (N[, P]) the Monte Carlo estimate at step 1 (a check on the recursion)
    mc_step1_se: Optional[np.ndarray] = None  # ([P]) its standard error of the mean over origins
    seconds: float = 0.0  # wall time of the Monte Carlo

    def precision(self, crps_histvol: np.ndarray) -> np.ndarray:
        """(H[, P]) Monte Carlo standard error / (hist-vol CRPS - oracle CRPS), both means over the origins."""
        gap = np.abs(np.mean(crps_histvol, axis=0) - self.crps.mean(axis=0))
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.se == 0, 0.0, self.se / gap)  # 0 at the exact step 1


def _cumulative_draws(steps: np.ndarray) -> np.ndarray:
    """Continued paths' returns (n, M, H[, P]) -> draws of the h-step cumulative return (n, H[, P], M)."""
    return np.moveaxis(np.cumsum(steps, axis=2), 1, -1)


def monte_carlo_crps(market, path, origins, horizon: int, n_paths: int = N_PATHS, seed: int = 0,
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Fair CRPS of the true h-step cumulative-return distribution at each origin and step, from
    n_paths continuations of the market's recursion, and the Monte Carlo variance of each estimate:
    two arrays (N, H[, P])."""
    origins = np.asarray(origins, dtype=int)
    if n_paths < 2 * BATCHES or n_paths % BATCHES:
        raise ForecasterError(f"n_paths={n_paths} invalid: accepted a multiple of {BATCHES}, at least {2 * BATCHES}")
    actual = path.targets(origins, horizon)  # (N, H[, P])
    rng = np.random.default_rng(seed)
    crps, var = np.empty(actual.shape), np.empty(actual.shape)
    chunk = max(1, CHUNK_DRAWS // (n_paths * horizon))
    for a in range(0, len(origins), chunk):
        rows = slice(a, a + chunk)
        draws = _cumulative_draws(market.continue_paths(path, origins[rows], horizon, n_paths, rng))  # (n, H[, P], M)
        y = actual[rows]
        crps[rows] = fair_crps(draws, y)
        groups = draws.reshape(*draws.shape[:-1], BATCHES, n_paths // BATCHES)  # (n, H[, P], B, M/B)
        per_group = fair_crps(groups, y[..., None])  # (n, H[, P], B)
        var[rows] = per_group.var(axis=-1, ddof=1) / BATCHES
    return crps, var


def filter_crps(market, path, origins, horizon: int, seen, n_particles: int = N_PATHS, seed: int = 0) -> np.ndarray:
    """Fair CRPS (N, H, P) at each origin of the forecast the market's particle filter makes from the
    returns of the pairs `seen` alone (market.filter, for a market with a latent state no forecaster
    sees): each particle continued once by the market's recursion. Read only the seen pairs' columns."""
    origins = np.asarray(origins, dtype=int)
    rng = np.random.default_rng(seed)
    particles = market.filter(path.returns, origins, seen, n_particles, rng)  # x (N, M), h (N, M, P)
    actual = path.targets(origins, horizon)  # (N, H, P)
    crps = np.empty(actual.shape)
    chunk = max(1, CHUNK_DRAWS // (n_particles * horizon))
    for a in range(0, len(origins), chunk):
        rows = slice(a, a + chunk)
        x, h = particles["x"][rows], particles["h"][rows]
        starts = SimpleNamespace(state={"x": x.reshape(-1), "h": h.reshape(-1, h.shape[-1])})  # one path per particle
        steps = market.continue_paths(starts, np.arange(x.size), horizon, 1, rng)  # (n M, 1, H, P)
        crps[rows] = fair_crps(_cumulative_draws(steps.reshape(*x.shape, *steps.shape[2:])), actual[rows])
    return crps


def oracle_scores(market, path, origins, horizon: int, n_paths: int = N_PATHS, seed: int = 0,
                  crps_histvol: Optional[np.ndarray] = None, tolerance: float = GAP_TOLERANCE,
                  max_paths: int = MAX_PATHS) -> OracleScores:
    """The oracle's CRPS at the origins (rows of the market's price frame), steps 1..horizon.

    With crps_histvol (N, H[, P]), the per-origin CRPS of the hist_vol baseline on the same origins,
    the number of paths is raised (once, from the error measured with n_paths, up to max_paths) until
    the Monte Carlo standard error of the mean is below `tolerance` times the gap at every step."""
    origins = np.asarray(origins, dtype=int)
    actual = path.targets(origins, horizon)
    exact = path.one_step[origins].crps(actual[:, 0])  # (N[, P])
    began = time.perf_counter()
    crps, var = monte_carlo_crps(market, path, origins, horizon, n_paths, seed)
    if crps_histvol is not None:
        mean_exact = np.concatenate([exact.mean(0)[None], crps.mean(0)[1:]])
        gap = np.abs(np.mean(crps_histvol, axis=0) - mean_exact)  # (H[, P])
        worst = float(np.max(np.sqrt(var.sum(0))[1:] / len(origins) / (tolerance * gap[1:]), initial=0.0))
        if worst > 1.0:
            n_paths = min(max_paths, BATCHES * math.ceil(1.2 * n_paths * worst**2 / BATCHES))
            crps, var = monte_carlo_crps(market, path, origins, horizon, n_paths, seed + 1)
    seconds = time.perf_counter() - began
    se = np.sqrt(var.sum(0)) / len(origins)  # (H[, P])
    mc_step1, mc_se = crps[:, 0].copy(), se[0].copy()
    crps[:, 0], se[0] = exact, 0.0
    return OracleScores(crps=crps, se=se, actual=actual, n_paths=n_paths, mc_step1=mc_step1, mc_step1_se=mc_se,
                        seconds=seconds)


def gap_closed(crps_histvol: np.ndarray, crps_model: np.ndarray, crps_oracle: np.ndarray, axis=0) -> np.ndarray:
    """(hv - model) / (hv - oracle) of the mean CRPS over `axis` (0: the origins, giving one figure per
    step; None: all origins and steps pooled). Arrays of one shape, e.g. (N, H); several seeds are pooled
    by concatenating their origins (the ratio of the mean differences, not the mean of the ratios)."""
    hv, model, oracle = (np.asarray(x, dtype=np.float64) for x in (crps_histvol, crps_model, crps_oracle))
    if not hv.shape == model.shape == oracle.shape:
        raise ForecasterError(f"CRPS arrays of shapes {hv.shape}, {model.shape}, {oracle.shape} differ: "
                              f"score every model on the same origins and steps")
    mean_hv = hv.mean(axis=axis)
    return (mean_hv - model.mean(axis=axis)) / (mean_hv - oracle.mean(axis=axis))
