"""Simulated markets whose conditional distribution is known exactly: the oracle benchmark's truth.

Each market is a dataclass of its parameters, in daily log-return units, with defaults in the range
of daily FX (unconditional daily volatility 0.4-1%, volatility persistence 0.95-0.99):

    simulate(n, seed) -> SimulatedPath    n returns r_0..r_{n-1} (after a burn-in of BURN_IN returns that
                                          starts from the unconditional state) and the exact one-step
                                          conditional distribution of each r_t given r_0..r_{t-1}
    continue_paths(path, origins, H, M, rng) -> (N, M, H[, P])
                                          M draws of the next H returns r_t..r_{t+H-1} from each origin t,
                                          drawn from the true recursion started at the state before r_t

Timing (the backtest's): `price_frame` gives n + 1 closes, close_0 = 1 and close_{t+1} = close_t exp(r_t),
so origin ROW t has seen r_0..r_{t-1}; its step-h target log(close_{t+h} / close_t) is
r_t + ... + r_{t+h-1} (`SimulatedPath.targets`), and `path.one_step[t]` is the law of its step-1 target.

Innovations z are Student-t with df degrees of freedom scaled to unit variance, z = T sqrt((df - 2) / df),
so the t scale of r_t = sigma_t z is sigma_t sqrt((df - 2) / df) (df = inf: normal).

    IidTMarket             r_t = vol z_t: nothing is learnable (the control)
    GarchMarket            sigma2_{t+1} = omega + alpha r_t^2 + beta sigma2_t
    GjrGarchMarket         sigma2_{t+1} = omega + (alpha + gamma 1{r_t < 0}) r_t^2 + beta sigma2_t
                           (Glosten, Jagannathan & Runkle 1993; persistence alpha + gamma / 2 + beta)
    HarchMarket            sigma2_t = omega + sum_k a_k (r_{t-1}^2 + ... + r_{t-k}^2) / k, k = 1, 5, 22, 126
                           (heterogeneous ARCH, Mueller et al. 1997: long memory, GARCH(1,1) misspecified)
    MarkovSwitchingMarket  s_t a two-state Markov chain, r_t | s_t ~ N(0, vol_{s_t}^2); the oracle is the
                           Hamilton (1989) filter's predictive normal mixture given r_0..r_{t-1}
    FactorMarket           P pairs, r_{i,t} = exp((b_i x_t - b_i^2 v / 2) / 2) u_{i,t}, one latent log-variance
                           factor x_{t+1} = phi x_t + eta_t (stationary variance v; x_t is drawn before r_t),
                           u_{i,t} = sqrt(h_{i,t}) z_{i,t} a GARCH(1,1) per pair on the defactored returns.
                           The oracle conditions on the latent x_t (and so h_{i,t}): a forecaster of returns
                           never sees it, so the oracle's CRPS is a lower bound, below what any model can reach
                           (its gap closed stays below 1 even for a perfect filter).
In every market omega (or w_i) is set so that the unconditional variance of r_t is vol^2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from forecaster.errors import ForecasterError
from forecaster.util.files import atomic_write
from forecaster.probabilistic.distributions import t_scale
from forecaster.probabilistic.oracle import ScaleMixture

BURN_IN = 1000  # returns simulated and dropped before the first one kept
START_DATE = "1990-01-01"  # first business day of a simulated price frame
VOL = 0.006  # unconditional daily volatility of every market (0.6%: a major FX pair)
DF = 6.0  # Student-t degrees of freedom of the innovations


def _unit_t(rng: np.random.Generator, df: float, size) -> np.ndarray:
    """Student-t draws scaled to unit variance (df = inf: standard normal)."""
    if math.isinf(df):
        return rng.standard_normal(size)
    return t_scale(rng.standard_t(df, size), df)


def _check(name: str, ok: bool, value, accepted: str) -> None:
    if not ok:
        raise ForecasterError(f"{name}={value!r} invalid: accepted {accepted}")


@dataclass
class SimulatedPath:
    """One simulated series: returns, the exact one-step law of each, and the state the recursion
    continues from (per market: arrays over t, each the state before r_t)."""

    market: str
    seed: int
    returns: np.ndarray  # (n,) or (n, P) daily log returns
    one_step: ScaleMixture  # shape (n,) or (n, P): the law of r_t given the past (FactorMarket: and x_t)
    state: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.returns)

    def targets(self, origins, horizon: int) -> np.ndarray:
        """(N, H[, P]) cumulative log returns r_t + ... + r_{t+h-1} from each origin row t, h = 1..H."""
        origins = np.asarray(origins, dtype=int)
        if origins.min(initial=0) < 0 or origins.max(initial=0) + horizon > len(self):
            raise ForecasterError(f"origins must lie in 0..{len(self) - horizon} for {horizon} steps of "
                                  f"{len(self)} returns")
        c = np.concatenate([np.zeros((1,) + self.returns.shape[1:]), np.cumsum(self.returns, axis=0)])
        return c[origins[:, None] + np.arange(1, horizon + 1)] - c[origins][:, None]

    def true_sd(self) -> np.ndarray:
        """(n[, P]) the conditional standard deviation of each r_t."""
        return self.one_step.std()


class _Market:
    name: str
    pairs: int = 1

    def simulate(self, n: int, seed: int = 0) -> SimulatedPath:
        _check("n", isinstance(n, (int, np.integer)) and n >= 2, n, "an integer >= 2")
        rng = np.random.default_rng(seed)
        total = BURN_IN + int(n)
        returns, one_step, state = self._run(total, rng)
        keep = slice(BURN_IN, None)
        # per-time state arrays lose the burn-in like the returns; anything else is kept as it is
        state = {k: v[keep] if isinstance(v, np.ndarray) and len(v) == total else v for k, v in state.items()}
        return SimulatedPath(self.name, int(seed), returns[keep], one_step[keep], state)

    def _run(self, n: int, rng: np.random.Generator):  # -> returns, ScaleMixture, state
        raise NotImplementedError

    def continue_paths(self, path: SimulatedPath, origins, horizon: int, n_paths: int,
                       rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError


# ----------------------------------------------------------------------------- i.i.d. t

@dataclass
class IidTMarket(_Market):
    vol: float = VOL
    df: float = 5.0
    name: str = "iid_t"

    def _run(self, n, rng):
        r = self.vol * _unit_t(rng, self.df, n)
        scale = np.full((n, 1), t_scale(self.vol, self.df))
        return r, ScaleMixture(np.ones((n, 1)), scale, self.df), {}

    def continue_paths(self, path, origins, horizon, n_paths, rng):
        return self.vol * _unit_t(rng, self.df, (len(origins), n_paths, horizon))  # (N, M, H)


# ----------------------------------------------------------------------------- GARCH(1,1)-t and GJR

def _gjr_recursion(z: np.ndarray, omega: float, alpha: float, gamma: float, beta: float,
                   var0: float) -> tuple[np.ndarray, np.ndarray]:
    """Returns r (n,) and variances sigma2 (n,) (sigma2_t: of r_t, known before it) from unit innovations z."""
    r, var = np.empty(len(z)), np.empty(len(z))
    v = var0
    for t, zt in enumerate(z):
        var[t] = v
        x = math.sqrt(v) * zt
        r[t] = x
        v = omega + (alpha + (gamma if x < 0 else 0.0)) * x * x + beta * v
    return r, var


@dataclass
class GjrGarchMarket(_Market):
    vol: float = VOL
    alpha: float = 0.02
    gamma: float = 0.06
    beta: float = 0.93
    df: float = DF
    name: str = "gjr_garch_t"

    @property
    def persistence(self) -> float:
        return self.alpha + self.gamma / 2.0 + self.beta  # E[1{z < 0} z^2] = 1/2 for a symmetric z

    @property
    def omega(self) -> float:
        return self.vol**2 * (1.0 - self.persistence)

    def _run(self, n, rng):
        _check("persistence", 0 < self.persistence < 1, self.persistence, "alpha + gamma/2 + beta in (0, 1)")
        r, var = _gjr_recursion(_unit_t(rng, self.df, n), self.omega, self.alpha, self.gamma, self.beta, self.vol**2)
        scale = t_scale(np.sqrt(var), self.df)[:, None]
        return r, ScaleMixture(np.ones((n, 1)), scale, self.df), {"var": var}

    def continue_paths(self, path, origins, horizon, n_paths, rng):
        v = np.repeat(path.state["var"][np.asarray(origins)][:, None], n_paths, axis=1)  # (N, M)
        out = np.empty(v.shape + (horizon,))  # (N, M, H)
        for j in range(horizon):
            x = np.sqrt(v) * _unit_t(rng, self.df, v.shape)
            out[..., j] = x
            v = self.omega + (self.alpha + self.gamma * (x < 0)) * x * x + self.beta * v
        return out


@dataclass
class GarchMarket(GjrGarchMarket):
    """GARCH(1,1)-t: the GJR recursion with gamma = 0."""

    alpha: float = 0.05
    gamma: float = 0.0
    beta: float = 0.93
    name: str = "garch_t"


# ----------------------------------------------------------------------------- heterogeneous ARCH

@dataclass
class HarchMarket(_Market):
    vol: float = VOL
    lags: tuple = (1, 5, 22, 126)  # days in each component: daily, weekly, monthly, half-yearly
    weights: tuple = (0.15, 0.20, 0.25, 0.30)  # a_k; their sum is the persistence
    df: float = 8.0  # thinner tails than DF: with long memory, t(6) innovations give 3-8% daily swings
    name: str = "harch_t"

    @property
    def omega(self) -> float:
        return self.vol**2 * (1.0 - sum(self.weights))

    def _run(self, n, rng):
        _check("weights", len(self.weights) == len(self.lags) and 0 < sum(self.weights) < 1 and min(self.weights) >= 0,
               self.weights, f"{len(self.lags)} non-negative weights summing to less than 1")
        z = _unit_t(rng, self.df, n)
        longest = max(self.lags)
        _check("lags", 1 <= min(self.lags) and longest < BURN_IN, self.lags, f"days between 1 and {BURN_IN - 1}")
        sq = np.full(longest + n, self.vol**2)  # squared returns; the first `longest` stand for the pre-sample
        var = np.empty(n)
        for t in range(n):
            i = longest + t  # position of r_t in sq
            var[t] = self.omega + sum(a * sq[i - k : i].mean() for a, k in zip(self.weights, self.lags))
            sq[i] = var[t] * z[t] ** 2
        r = np.sqrt(var) * z
        scale = t_scale(np.sqrt(var), self.df)[:, None]
        # the squares kept: the `longest` before the first kept return, then every kept one (BURN_IN > longest)
        state = {"var": var, "squares": sq[BURN_IN:], "pre": longest}
        return r, ScaleMixture(np.ones((n, 1)), scale, self.df), state

    def continue_paths(self, path, origins, horizon, n_paths, rng):
        origins = np.asarray(origins)
        sq, pre = path.state["squares"], path.state["pre"]  # sq[pre + t] = r_t^2
        c = np.concatenate([[0.0], np.cumsum(sq)])
        pos = pre + origins  # (N,) position of r_t in sq
        sums = [np.repeat((c[pos] - c[pos - k])[:, None], n_paths, axis=1) for k in self.lags]  # each (N, M)
        new_sq = np.empty((len(origins), n_paths, horizon))
        out = np.empty_like(new_sq)  # (N, M, H)
        for j in range(horizon):
            var = self.omega + sum(a * s / k for a, s, k in zip(self.weights, sums, self.lags))
            x = np.sqrt(var) * _unit_t(rng, self.df, var.shape)
            out[..., j], new_sq[..., j] = x, x * x
            for s, k in zip(sums, self.lags):  # the window moves on: add step j, drop the square k back
                dropped = new_sq[..., j - k] if j - k >= 0 else sq[pos + j - k][:, None]
                s += new_sq[..., j] - dropped
        return out


# ----------------------------------------------------------------------------- Markov switching

@dataclass
class MarkovSwitchingMarket(_Market):
    vol_low: float = 0.004
    vol_high: float = 0.009
    stay_low: float = 0.99  # P(s_{t+1} = low | s_t = low): a low regime lasts 100 days on average
    stay_high: float = 0.98  # ... a high one 50 days
    name: str = "markov_switching"

    @property
    def transition(self) -> np.ndarray:
        return np.array([[self.stay_low, 1 - self.stay_low], [1 - self.stay_high, self.stay_high]])  # (2, 2)

    @property
    def stationary(self) -> np.ndarray:
        low = (1 - self.stay_high) / (2 - self.stay_low - self.stay_high)
        return np.array([low, 1 - low])

    @property
    def vols(self) -> np.ndarray:
        return np.array([self.vol_low, self.vol_high])

    @property
    def unconditional_var(self) -> float:
        return float(self.stationary @ self.vols**2)

    def _run(self, n, rng):
        _check("stay probabilities", 0 < self.stay_low < 1 and 0 < self.stay_high < 1,
               (self.stay_low, self.stay_high), "numbers in (0, 1)")
        trans, vols = self.transition, self.vols
        u = rng.random(n)
        s = np.empty(n, dtype=int)
        s[0] = int(rng.random() < self.stationary[1])
        for t in range(1, n):
            s[t] = int(u[t] < trans[s[t - 1], 1])
        r = vols[s] * rng.standard_normal(n)
        lik = stats.norm.pdf(r[:, None], scale=vols)  # (n, 2)
        pred = np.empty((n, 2))  # P(s_t = j | r_0..r_{t-1}): the Hamilton filter's prediction
        p = self.stationary
        for t in range(n):
            pred[t] = p
            post = p * lik[t]
            p = (post / post.sum()) @ trans
        return r, ScaleMixture(pred, np.broadcast_to(vols, (n, 2)).copy()), {"pred": pred, "regime": s}

    def continue_paths(self, path, origins, horizon, n_paths, rng):
        pred = path.state["pred"][np.asarray(origins)]  # (N, 2)
        s = (rng.random((len(pred), n_paths)) < pred[:, 1:]).astype(int)  # (N, M) regime of r_t
        out = np.empty(s.shape + (horizon,))
        to_high = self.transition[:, 1]  # P(next regime high | this regime)
        for j in range(horizon):
            out[..., j] = self.vols[s] * rng.standard_normal(s.shape)
            s = (rng.random(s.shape) < to_high[s]).astype(int)
        return out


# ----------------------------------------------------------------------------- one factor, several pairs

@dataclass
class FactorMarket(_Market):
    vols: tuple = (0.006, 0.005, 0.007, 0.009)  # unconditional daily volatility of each pair
    loadings: tuple = (1.0, 0.8, 0.6, 1.2)  # b_i: each pair's exposure to the log-variance factor
    factor_persistence: float = 0.98  # phi
    factor_sd: float = 0.5  # stationary standard deviation of x (log-variance units)
    alpha: float = 0.04  # per-pair GARCH(1,1) on the defactored returns
    beta: float = 0.91
    df: float = DF
    name: str = "factor"

    @property
    def pairs(self) -> int:
        return len(self.vols)

    def _arrays(self):
        b, vol = np.asarray(self.loadings, dtype=np.float64), np.asarray(self.vols, dtype=np.float64)
        w = vol**2 * (1.0 - self.alpha - self.beta)
        eta_sd = self.factor_sd * math.sqrt(1.0 - self.factor_persistence**2)
        return b, w, eta_sd

    def _factor_var(self, x: np.ndarray, b: np.ndarray) -> np.ndarray:
        """exp(b x - b^2 v / 2): the factor's multiple of the variance, mean 1 over x's stationary law."""
        return np.exp(x[..., None] * b - b**2 * self.factor_sd**2 / 2.0)

    def _run(self, n, rng):
        _check("loadings", len(self.loadings) == len(self.vols) >= 1, self.loadings, "one loading per pair in vols")
        _check("alpha + beta", 0 < self.alpha + self.beta < 1, self.alpha + self.beta, "a number in (0, 1)")
        b, w, eta_sd = self._arrays()
        p = self.pairs
        z = _unit_t(rng, self.df, (n, p))
        eta = rng.standard_normal(n) * eta_sd
        x, h = np.empty(n), np.empty((n, p))
        xt, ht = rng.standard_normal() * self.factor_sd, np.asarray(self.vols, dtype=np.float64) ** 2
        u = np.empty((n, p))
        for t in range(n):
            x[t], h[t] = xt, ht
            u[t] = np.sqrt(ht) * z[t]
            ht = w + self.alpha * u[t] ** 2 + self.beta * ht
            xt = self.factor_persistence * xt + eta[t]
        var = self._factor_var(x, b) * h  # (n, P)
        r = np.sqrt(self._factor_var(x, b)) * u
        scale = t_scale(np.sqrt(var), self.df)[..., None]  # (n, P, 1)
        return r, ScaleMixture(np.ones_like(scale), scale, self.df), {"x": x, "h": h}

    def filter(self, returns: np.ndarray, origins, seen, n_particles: int, rng: np.random.Generator) -> dict:
        """What the returns of the pairs `seen` (indices) tell of the latent state, with the market's own
        parameters: a bootstrap particle filter (resampled every step, systematically). At each origin t,
        n_particles equally weighted draws of the state r_t is drawn with, given r_0..r_{t-1}: {"x": (N, M),
        "h": (N, M, P)}; the pairs not seen keep h at their unconditional variance (their draws are not to be
        read). Continued by continue_paths, they give the best forecast of a seen pair that those returns allow
        (up to the filter's Monte Carlo error): the ceiling of what a forecaster reading them can learn."""
        b, w, eta_sd = self._arrays()
        seen, origins = np.asarray(seen, dtype=int), np.asarray(origins, dtype=int)
        r = np.asarray(returns, dtype=np.float64)  # (n, P)
        slot = np.full(len(r), -1)
        slot[origins] = np.arange(len(origins))  # where each origin's particles are kept
        x = rng.standard_normal(n_particles) * self.factor_sd  # (M,) x's stationary law
        h = np.tile(np.asarray(self.vols, dtype=np.float64) ** 2, (n_particles, 1))  # (M, P)
        kept = {"x": np.empty((len(origins), n_particles)), "h": np.empty((len(origins), n_particles, self.pairs))}
        unit = t_scale(1.0, self.df)  # the t scale of unit variance
        ladder = np.arange(n_particles) / n_particles
        for t in range(len(r)):
            if slot[t] >= 0:
                kept["x"][slot[t]], kept["h"][slot[t]] = x, h
            fv = self._factor_var(x, b)  # (M, P)
            sd = np.sqrt(fv[:, seen] * h[:, seen])  # (M, S) each particle's sd of r_t
            log_w = (-(self.df + 1) / 2 * np.log1p((r[t, seen] / (sd * unit)) ** 2 / self.df) - np.log(sd)).sum(1)
            cum = np.cumsum(np.exp(log_w - log_w.max()))
            pick = np.minimum(np.searchsorted(cum, (rng.random() / n_particles + ladder) * cum[-1]), n_particles - 1)
            x, h, fv = x[pick], h[pick], fv[pick]
            u = r[t, seen] / np.sqrt(fv[:, seen])  # (M, S) the defactored returns
            h[:, seen] = w[seen] + self.alpha * u**2 + self.beta * h[:, seen]
            x = self.factor_persistence * x + rng.standard_normal(n_particles) * eta_sd
        return kept

    def continue_paths(self, path, origins, horizon, n_paths, rng):
        b, w, eta_sd = self._arrays()
        origins = np.asarray(origins)
        x = np.repeat(path.state["x"][origins][:, None], n_paths, axis=1)  # (N, M)
        h = np.repeat(path.state["h"][origins][:, None], n_paths, axis=1)  # (N, M, P)
        out = np.empty(h.shape[:2] + (horizon, self.pairs))  # (N, M, H, P)
        for j in range(horizon):
            u = np.sqrt(h) * _unit_t(rng, self.df, h.shape)
            out[:, :, j] = np.sqrt(self._factor_var(x, b)) * u
            h = w + self.alpha * u**2 + self.beta * h
            x = self.factor_persistence * x + rng.standard_normal(x.shape) * eta_sd
        return out


MARKETS = {m.name: m for m in (IidTMarket(), GarchMarket(), GjrGarchMarket(), HarchMarket(),
                               MarkovSwitchingMarket(), FactorMarket())}  # name -> the market at its defaults


# ----------------------------------------------------------------------------- price files

def price_frame(returns: np.ndarray, start: str = START_DATE) -> pd.DataFrame:
    """Daily log returns (n,) -> closes (n + 1,) on business days from `start`: close_0 = 1,
    close_t = exp(r_0 + ... + r_{t-1}); a `Date` index and a `close` column, as the csv source reads.
    A multi-pair market gives one frame per pair: price_frame(path.returns[:, i])."""
    r = np.asarray(returns, dtype=np.float64)
    if r.ndim != 1:
        raise ForecasterError(f"returns of shape {r.shape}: give one pair's returns (n,); for a multi-pair market, "
                              f"one column at a time")
    close = np.exp(np.concatenate([[0.0], np.cumsum(r)]))
    return pd.DataFrame({"close": close}, index=pd.bdate_range(start, periods=len(close), name="Date"))


def write_csv(path, frame: pd.DataFrame):
    """Write a price frame atomically as `Date,close` rows (closes to full float precision). Returns the path."""
    return atomic_write(path, lambda tmp: frame.to_csv(tmp, date_format="%Y-%m-%d", float_format="%.17g"))
