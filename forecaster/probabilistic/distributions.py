"""Predictive distributions of cumulative log returns, one per forecast origin and horizon step.

Every form answers the same questions for N origins and H steps (numpy and scipy; the CRPS closed
forms are the training losses' own, forecaster.probabilistic.losses, run in float64):

    .shape                  (N, H)
    .quantile(levels)       (N, H, Q) values at the probability levels (Q,)
    .cdf(y)                 (N, H) F(y): the probability integral transform (PIT) of outcomes y
    .crps(y)                (N, H) the continuous ranked probability score of outcomes y (lower is better)
    .interval(level)        (lower (N, H), upper (N, H)): the central interval of that coverage
    [rows]                  the same distribution at a subset of origins

Forms:
    Predictive  location-scale Student-t (df > 1) or Gaussian (df = inf): y = loc + scale * T_df.
                Parametric heads and the risk models (EWMA, GARCH) give this.
    Empirical   location-scale of an empirical sample: y = loc + scale * Z, Z drawn from a standardised
                sample of M values shared by a group of origins (one group per refit) or one per origin.
                Historical-volatility quantiles and ensembles give this.
    Quantiles   a grid of quantiles per origin and step (a quantile head), linear between the levels
                given and flat beyond them.
    Mixture     a density combination sum_k w_k F_k of K Predictive components with weights per origin
                and step (a model pooled with GARCH-t, an ensemble of laws).

CRPS(F, y) = E|Y - y| - E|Y - Y'| / 2 = integral of (F(x) - 1{x >= y})^2 dx (Gneiting & Raftery 2007).
Closed forms used here (z = (y - loc) / scale, CRPS(F, y) = scale * crps_standard(z)):
    Gaussian:   z (2 Phi(z) - 1) + 2 phi(z) - 1 / sqrt(pi)                       (Gneiting et al. 2005)
    Student-t:  z (2 F(z) - 1) + 2 f(z) (df + z^2) / (df - 1)
                - 2 sqrt(df) B(1/2, df - 1/2) / ((df - 1) B(1/2, df/2)^2),  df > 1
                (Jordan, Krueger & Lerch 2019, "Evaluating probabilistic forecasts with scoringRules",
                J. Stat. Softw. 90(12), and the closed-form appendix of the R package scoringRules;
                checked in the tests against a numerical integral and the package's value
                crps_t(-3, df=5) = 2.33875895).
    Empirical:  exact for the empirical CDF of the sample: E|Z - z| from sorted partial sums and
                E|Z - Z'| = 2 / M^2 * sum_i (2i - M - 1) z_(i).
    Mixture:    CRPS = sum_k w_k E|X_k - y| - 1/2 sum_jk w_j w_k E|X_j - X_k|: E|X_k - y| = CRPS_k(y) +
                E|X_k - X_k'| / 2 from the component's closed form (E|T - T'| = 2 / sqrt(pi) for the
                normal, 4 sqrt(df) B(1/2, df - 1/2) / ((df - 1) B(1/2, df/2)^2) for the t, times the
                scale); E|X_j - X_k| for j != k in closed form for two normals (E|N(m, s^2)|, m the loc
                difference, s^2 the variances' sum), otherwise integral of F_j (1 - F_k) + F_k (1 - F_j) dx,
                smooth and free of y, in u on x = c + d tan(u): Gauss-Legendre (MIX_GRID nodes), or the
                midpoint rule (MIX_GRID_HEAVY points) where a df < 3 makes the integrand in u rough at +-pi/2.
    Quantiles:  CRPS = 2 * integral_0^1 pinball_tau(y, q(tau)) dtau, on a midpoint grid of
                `CRPS_GRID` levels with q(tau) interpolated as above (the tails beyond the outermost
                levels given are cut off, so a coarse grid under-states the CRPS of fat tails).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence, Union

import numpy as np
from scipy import special, stats

from forecaster.errors import ForecasterError

CRPS_GRID = 200  # midpoint levels for the CRPS of a Quantiles distribution
MIX_GRID = 128  # Gauss-Legendre nodes in u of the cross terms E|X_j - X_k| of a Mixture with a Student-t component
#   (both df >= 3): relative error below 1e-9 against 40,000 midpoints over scale ratios up to 10 (400 midpoints,
#   the rule before, erred by up to 7e-6 there at three times the time)
MIX_GRID_HEAVY = 2000  # midpoints in u where a component has df < 3 (the integrand in u is not smooth at the ends)
BISECTIONS = 60  # halvings of the bracket of a Mixture quantile (2^-60 of the widest component spread) where
#   Newton's steps have not converged
NEWTON_STEPS = 10  # safeguarded Newton steps of a Mixture quantile (from the components' quantiles: 4-6 suffice)
NEWTON_TOL = 1e-13  # a cell has converged when its last Newton step is below this share of its first bracket
ArrayLike = Union[float, np.ndarray]


def _levels(levels) -> np.ndarray:
    q = np.atleast_1d(np.asarray(levels, dtype=np.float64))
    if q.ndim != 1 or not np.all((q > 0) & (q < 1)):
        raise ForecasterError(f"probability levels {np.asarray(levels).tolist()} are invalid: accepted numbers in (0, 1)")
    return q


def _check_level(level: float) -> float:
    if not 0 < level < 1:
        raise ForecasterError(f"interval level {level!r} is invalid: accepted a coverage in (0, 1), e.g. 0.8 or 0.95")
    return float(level)


class _Base:
    shape: tuple

    def quantile(self, levels) -> np.ndarray:  # (N, H, Q)
        raise NotImplementedError

    def interval(self, level: float) -> tuple[np.ndarray, np.ndarray]:
        """Central interval: the (1 - level)/2 and (1 + level)/2 quantiles, each (N, H)."""
        level = _check_level(level)
        q = self.quantile([(1 - level) / 2, (1 + level) / 2])  # (N, H, 2)
        return q[..., 0], q[..., 1]

    def intervals(self, levels: Sequence[float]) -> dict:
        """{level: (lower (N, H), upper (N, H))}: the layout of the backtest's interval dict."""
        return {float(level): self.interval(level) for level in levels}

    def median(self) -> np.ndarray:
        return self.quantile([0.5])[..., 0]

    def _outcomes(self, y) -> np.ndarray:
        y = np.asarray(y, dtype=np.float64)
        try:
            return np.broadcast_to(y, self.shape)
        except ValueError:
            raise ForecasterError(f"outcomes of shape {y.shape} do not match the distribution's {self.shape} "
                                  f"(origins, steps)") from None


# ----------------------------------------------------------------------------- closed forms

def t_scale(sd, df: float):
    """The scale of a Student-t with df > 2 degrees of freedom and standard deviation sd (sd for df = inf:
    the normal); sd an array, a tensor or a number."""
    return sd if math.isinf(df) else sd * math.sqrt((df - 2.0) / df)


def pinball(y: np.ndarray, q: np.ndarray, levels) -> np.ndarray:
    """y (N, H), q (N, H, Q) at levels tau (Q,) -> (N, H, Q) pinball losses max(tau u, (tau - 1) u), u = y - q."""
    tau = np.asarray(levels, dtype=np.float64)
    u = np.asarray(y)[..., None] - q
    return np.maximum(tau * u, (tau - 1.0) * u)


def crps_normal(z: np.ndarray) -> np.ndarray:
    """CRPS of the standard normal at z."""
    return crps_student_t(z, np.inf)


def crps_student_t(z: np.ndarray, df: ArrayLike) -> np.ndarray:
    """CRPS of the standard Student-t with df > 1 degrees of freedom at z (df = inf: the normal).
    The closed forms are the training losses' (forecaster.probabilistic.losses), evaluated in float64."""
    import torch

    from forecaster.probabilistic import losses

    z, df = np.broadcast_arrays(np.asarray(z, np.float64), np.asarray(df, np.float64))
    zt, v = torch.from_numpy(np.ascontiguousarray(z)), torch.from_numpy(np.ascontiguousarray(df))
    zero, one = torch.zeros_like(zt), torch.ones_like(zt)
    gauss = torch.isinf(v)
    out = losses.crps_normal(torch.stack([zero, one], -1), zt, reduction="none")
    if not bool(gauss.all()):
        finite = torch.where(gauss, torch.full_like(v, 3.0), v)  # any valid df where the normal is used
        t = losses.crps_student_t(torch.stack([zero, one, finite], -1), zt, reduction="none")
        out = torch.where(gauss, out, t)
    return out.numpy()


# ----------------------------------------------------------------------------- parametric

@dataclass
class Predictive(_Base):
    """y = loc + scale * T_df: Student-t with df > 1 degrees of freedom, or Gaussian where df = inf.

    loc, scale (N, H); df a scalar or (N, H). scale is the t scale, not the standard deviation
    (std = scale * sqrt(df / (df - 2)) for df > 2)."""

    loc: np.ndarray  # (N, H)
    scale: np.ndarray  # (N, H) > 0
    df: ArrayLike = math.inf  # scalar or (N, H); inf = Gaussian

    def __post_init__(self) -> None:
        self.loc = np.atleast_2d(np.asarray(self.loc, dtype=np.float64))
        if self.loc.ndim != 2:
            raise ForecasterError(f"loc must be (origins, steps), got shape {self.loc.shape}")
        try:
            self.scale = np.broadcast_to(np.asarray(self.scale, dtype=np.float64), self.loc.shape).copy()
            df = np.asarray(self.df, dtype=np.float64)
            self.df = float(df) if df.ndim == 0 else np.broadcast_to(df, self.loc.shape).copy()
        except ValueError:
            raise ForecasterError(f"scale and df must match loc's shape {self.loc.shape}") from None
        if not np.all(np.isfinite(self.loc)):
            raise ForecasterError("loc holds NaN or infinite values")
        if not np.all(np.isfinite(self.scale) & (self.scale > 0)):
            bad = self.scale[~(np.isfinite(self.scale) & (self.scale > 0))][0]
            raise ForecasterError(f"scale {bad!r} is invalid: accepted finite numbers > 0")
        if not np.all(np.asarray(self.df) > 1):
            raise ForecasterError(f"degrees of freedom {np.min(self.df)!r} invalid: accepted df > 1 (inf = Gaussian)")

    @property
    def shape(self) -> tuple:
        return self.loc.shape

    def __getitem__(self, rows) -> "Predictive":
        df = self.df if np.ndim(self.df) == 0 else self.df[rows]
        return Predictive(self.loc[rows], self.scale[rows], df)

    def std(self) -> np.ndarray:
        """(N, H) standard deviation (inf where df <= 2)."""
        df = np.broadcast_to(self.df, self.shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            factor = np.where(np.isinf(df), 1.0, np.where(df > 2, np.sqrt(df / (df - 2.0)), np.inf))
        return self.scale * factor

    def quantile(self, levels) -> np.ndarray:
        q = _levels(levels)
        df = np.asarray(self.df)[..., None] if np.ndim(self.df) else self.df
        return self.loc[..., None] + self.scale[..., None] * stats.t.ppf(q, df)  # (N, H, Q)

    def cdf(self, y) -> np.ndarray:
        return stats.t.cdf((self._outcomes(y) - self.loc) / self.scale, self.df)

    def crps(self, y) -> np.ndarray:
        z = (self._outcomes(y) - self.loc) / self.scale
        return self.scale * crps_student_t(z, self.df)


# ----------------------------------------------------------------------------- empirical

@dataclass
class Empirical(_Base):
    """y = loc + scale * Z, Z from the empirical distribution of a standardised sample.

    samples (G, H, M): G sample sets of M values per step; group (N,) says which set each origin
    uses (default: one set for all origins). With loc 0 and scale 1 this is a plain ensemble."""

    loc: np.ndarray  # (N, H)
    scale: np.ndarray  # (N, H) > 0
    samples: np.ndarray  # (G, H, M) or (H, M)
    group: np.ndarray = field(default=None)  # (N,) ints in [0, G)

    def __post_init__(self) -> None:
        self.loc = np.atleast_2d(np.asarray(self.loc, dtype=np.float64))
        n, horizon = self.loc.shape
        self.scale = np.broadcast_to(np.asarray(self.scale, dtype=np.float64), self.loc.shape).copy()
        s = np.asarray(self.samples, dtype=np.float64)
        if s.ndim == 2:
            s = s[None]
        if s.ndim != 3 or s.shape[1] != horizon or s.shape[2] < 1:
            raise ForecasterError(f"samples of shape {np.shape(self.samples)} invalid: accepted (sets, {horizon}, M) "
                                  f"or ({horizon}, M)")
        if not np.all(np.isfinite(s)):
            raise ForecasterError("samples hold NaN or infinite values")
        self.samples = np.sort(s, axis=-1)  # sorted once: quantiles, CDF and CRPS all read it sorted
        self.group = np.zeros(n, dtype=int) if self.group is None else np.asarray(self.group, dtype=int)
        if self.group.shape != (n,) or self.group.min(initial=0) < 0 or self.group.max(initial=0) >= len(s):
            raise ForecasterError(f"group must be {n} integers in 0..{len(s) - 1}")
        if not np.all(np.isfinite(self.scale) & (self.scale > 0)):
            raise ForecasterError("scale must hold finite numbers > 0")

    @property
    def shape(self) -> tuple:
        return self.loc.shape

    def __getitem__(self, rows) -> "Empirical":
        return Empirical(self.loc[rows], self.scale[rows], self.samples, self.group[rows])

    def _by_group(self, fn, out_shape_tail=()) -> np.ndarray:
        """fn(sorted samples (H, M), rows) -> values for those rows; stitched over groups."""
        out = np.empty(self.shape + tuple(out_shape_tail))
        for g in np.unique(self.group):
            rows = np.flatnonzero(self.group == g)
            out[rows] = fn(self.samples[g], rows)
        return out

    def quantile(self, levels) -> np.ndarray:
        q = _levels(levels)

        def per_group(s, rows):
            zq = np.quantile(s, q, axis=-1).T  # (H, Q)
            return self.loc[rows, :, None] + self.scale[rows, :, None] * zq[None]

        return self._by_group(per_group, (len(q),))  # (N, H, Q)

    def cdf(self, y) -> np.ndarray:
        z = (self._outcomes(y) - self.loc) / self.scale

        def per_group(s, rows):
            m = s.shape[-1]
            return np.stack([np.searchsorted(s[h], z[rows, h], side="right") for h in range(s.shape[0])], 1) / m

        return self._by_group(per_group)

    def crps(self, y) -> np.ndarray:
        z = (self._outcomes(y) - self.loc) / self.scale

        def per_group(s, rows):
            horizon, m = s.shape
            csum = np.concatenate([np.zeros((horizon, 1)), np.cumsum(s, axis=-1)], axis=-1)  # (H, M+1)
            spread = 2.0 / m**2 * (s @ (2.0 * np.arange(1, m + 1) - m - 1)) if m > 1 else np.zeros(horizon)  # (H,)
            out = np.empty((len(rows), horizon))
            for h in range(horizon):
                zr = z[rows, h]
                k = np.searchsorted(s[h], zr, side="right")  # values <= z
                below, total = csum[h, k], csum[h, -1]
                abs_dev = (k * zr - below + (total - below) - (m - k) * zr) / m  # E|Z - z|
                out[:, h] = abs_dev - spread[h] / 2.0
            return out

        return self.scale * self._by_group(per_group)


# ----------------------------------------------------------------------------- quantile grid

@dataclass
class Quantiles(_Base):
    """A quantile grid per origin and step: linear in the level between the levels given, flat
    beyond them (a distribution with point masses at the outermost quantiles). Crossing quantiles
    are sorted (monotone rearrangement) on construction."""

    levels: np.ndarray  # (Q,) strictly increasing in (0, 1)
    values: np.ndarray  # (N, H, Q)

    def __post_init__(self) -> None:
        self.levels = _levels(self.levels)
        if len(self.levels) < 2 or np.any(np.diff(self.levels) <= 0):
            raise ForecasterError(f"quantile levels {self.levels.tolist()} invalid: accepted >= 2 increasing levels")
        v = np.asarray(self.values, dtype=np.float64)
        if v.ndim != 3 or v.shape[-1] != len(self.levels):
            raise ForecasterError(f"quantile values of shape {v.shape} invalid: accepted (origins, steps, "
                                  f"{len(self.levels)})")
        if not np.all(np.isfinite(v)):
            raise ForecasterError("quantile values hold NaN or infinite values")
        self.values = np.sort(v, axis=-1)

    @property
    def shape(self) -> tuple:
        return self.values.shape[:2]

    def __getitem__(self, rows) -> "Quantiles":
        return Quantiles(self.levels, self.values[rows])

    def quantile(self, levels) -> np.ndarray:
        q = np.clip(_levels(levels), self.levels[0], self.levels[-1])
        j = np.clip(np.searchsorted(self.levels, q, side="right") - 1, 0, len(self.levels) - 2)  # (Q',)
        w = (q - self.levels[j]) / (self.levels[j + 1] - self.levels[j])  # (Q',)
        return self.values[..., j] * (1.0 - w) + self.values[..., j + 1] * w  # (N, H, Q')

    def cdf(self, y) -> np.ndarray:
        y = self._outcomes(y)
        v, tau = self.values, self.levels
        k = np.sum(v <= y[..., None], axis=-1)  # (N, H) grid values at or below y
        j = np.clip(k - 1, 0, len(tau) - 2)[..., None]
        lo, hi = np.take_along_axis(v, j, -1)[..., 0], np.take_along_axis(v, j + 1, -1)[..., 0]
        with np.errstate(divide="ignore", invalid="ignore"):
            w = np.where(hi > lo, (y - lo) / (hi - lo), 1.0)
        inside = tau[j[..., 0]] + np.clip(w, 0.0, 1.0) * (tau[j[..., 0] + 1] - tau[j[..., 0]])
        return np.where(k == 0, 0.0, np.where(k == len(tau), 1.0, inside))

    def crps(self, y) -> np.ndarray:
        y = self._outcomes(y)
        tau = (np.arange(CRPS_GRID) + 0.5) / CRPS_GRID  # (K,)
        q = self.quantile(np.clip(tau, self.levels[0], self.levels[-1]))  # (N, H, K)
        return 2.0 * np.mean(pinball(y, q, tau), axis=-1)


# ----------------------------------------------------------------------------- density combination

def _spread(df: np.ndarray) -> np.ndarray:
    """E|T - T'| of two independent standard t (df > 1; inf: the normal's 2 / sqrt(pi)), from the
    training losses' closed form (forecaster.probabilistic.losses.student_t_half_spread)."""
    import torch

    from forecaster.probabilistic import losses

    df = np.asarray(df, dtype=np.float64)
    finite = np.where(np.isinf(df), 3.0, df)
    t = 2.0 * losses.student_t_half_spread(torch.from_numpy(np.ascontiguousarray(finite))).numpy()
    return np.where(np.isinf(df), 2.0 / math.sqrt(math.pi), t)


def _mean_abs_normal(m: np.ndarray, s: np.ndarray) -> np.ndarray:
    """E|N(m, s^2)|."""
    return s * math.sqrt(2.0 / math.pi) * np.exp(-0.5 * (m / s) ** 2) + m * (1.0 - 2.0 * stats.norm.cdf(-m / s))


def _t_cdf(z: np.ndarray, df: np.ndarray) -> np.ndarray:
    """Standard Student-t cdf at z for df (broadcast; inf: the normal's), by scipy.special directly
    (scipy.stats' argument checks cost more than the cdf at these sizes); a normal is not sent
    through the t's incomplete beta function."""
    df = np.broadcast_to(df, np.shape(z))
    if np.all(np.isinf(df)):
        return special.ndtr(z)
    out = special.stdtr(np.where(np.isinf(df), 1.0, df), z)
    return np.where(np.isinf(df), special.ndtr(z), out)


def _t_pdf(z: np.ndarray, df: np.ndarray) -> np.ndarray:
    """Standard Student-t density at z for df (broadcast; inf: the normal's)."""
    df = np.broadcast_to(df, np.shape(z))
    finite = np.where(np.isinf(df), 1.0, df)
    log_c = special.gammaln((finite + 1.0) / 2.0) - special.gammaln(finite / 2.0) - 0.5 * np.log(finite * math.pi)
    t = np.exp(log_c - (finite + 1.0) / 2.0 * np.log1p(z * z / finite))
    return np.where(np.isinf(df), np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi), t)


def _mixture_cdf_pdf(x: np.ndarray, w: np.ndarray, parts: list) -> tuple[np.ndarray, np.ndarray]:
    """F and f (M, Q) at x (M, Q) of mixtures with weights w (M, 1, K) of the components parts[k] =
    (loc, scale, df), each (M, 1)."""
    cdf, pdf = np.zeros_like(x), np.zeros_like(x)
    for k, (loc, scale, df) in enumerate(parts):
        z = (x - loc) / scale
        cdf += w[..., k] * _t_cdf(z, df)
        pdf += w[..., k] * _t_pdf(z, df) / scale
    return cdf, pdf


def _cross_abs(a: Predictive, b: Predictive) -> np.ndarray:
    """(N, H) E|X_a - X_b| of independent X_a ~ a, X_b ~ b."""
    dfa, dfb = np.broadcast_to(a.df, a.shape), np.broadcast_to(b.df, b.shape)
    normal = np.isinf(dfa) & np.isinf(dfb)
    out = _mean_abs_normal(a.loc - b.loc, np.sqrt(a.scale**2 + b.scale**2))
    if normal.all():
        return out
    centre, width = (a.loc + b.loc) / 2.0, np.maximum(a.scale, b.scale)  # (N, H)
    if min(dfa.min(), dfb.min()) >= 3:
        nodes, du = np.polynomial.legendre.leggauss(MIX_GRID)  # on (-1, 1)
        u, du = nodes * (math.pi / 2.0), du * (math.pi / 2.0)  # (G,) nodes and weights in (-pi/2, pi/2)
    else:
        u = (np.arange(MIX_GRID_HEAVY) + 0.5) / MIX_GRID_HEAVY * math.pi - math.pi / 2.0  # (G,) midpoints
        du = np.full(MIX_GRID_HEAVY, math.pi / MIX_GRID_HEAVY)
    x = centre[..., None] + width[..., None] * np.tan(u)  # (N, H, G)
    fa = _t_cdf((x - a.loc[..., None]) / a.scale[..., None], dfa[..., None])
    fb = _t_cdf((x - b.loc[..., None]) / b.scale[..., None], dfb[..., None])
    dx = width[..., None] / np.cos(u) ** 2 * du  # (N, H, G)
    numeric = np.sum((fa * (1.0 - fb) + fb * (1.0 - fa)) * dx, axis=-1)
    return np.where(normal, out, numeric)


@dataclass
class Mixture(_Base):
    """F = sum_k w_k F_k: K Predictive components (each (N, H)) with weights (K,) or (N, H, K) summing to 1."""

    weights: np.ndarray  # (N, H, K) >= 0, summing to 1 over K
    components: tuple  # K Predictive distributions of one shape (N, H)

    def __post_init__(self) -> None:
        self.components = tuple(self.components)
        if not self.components or any(not isinstance(c, Predictive) for c in self.components):
            raise ForecasterError("a mixture needs one or more Predictive (normal or Student-t) components")
        shape = self.components[0].shape
        if any(c.shape != shape for c in self.components):
            raise ForecasterError(f"mixture components of shapes {[c.shape for c in self.components]} differ")
        k = len(self.components)
        try:
            self.weights = np.broadcast_to(np.asarray(self.weights, dtype=np.float64), shape + (k,)).copy()
        except ValueError:
            raise ForecasterError(f"mixture weights of shape {np.shape(self.weights)} do not fit {k} components "
                                  f"of shape {shape}: accepted ({k},) or {shape + (k,)}") from None
        if np.any(self.weights < 0) or not np.allclose(self.weights.sum(-1), 1.0, atol=1e-9):
            raise ForecasterError("mixture weights must be >= 0 and sum to 1 over the components")

    @property
    def shape(self) -> tuple:
        return self.components[0].shape

    def __getitem__(self, rows) -> "Mixture":
        return Mixture(self.weights[rows], tuple(c[rows] for c in self.components))

    def std(self) -> np.ndarray:
        """(N, H) standard deviation (inf where a weighted component has none)."""
        w = np.moveaxis(self.weights, -1, 0)  # (K, N, H)
        mean = sum(wk * c.loc for wk, c in zip(w, self.components))
        with np.errstate(invalid="ignore"):
            second = sum(np.where(wk > 0, wk * (c.std() ** 2 + c.loc**2), 0.0) for wk, c in zip(w, self.components))
        return np.sqrt(np.maximum(second - mean**2, 0.0))

    def cdf(self, y) -> np.ndarray:
        y = self._outcomes(y)
        return np.sum([self.weights[..., k] * c.cdf(y) for k, c in enumerate(self.components)], axis=0)

    def quantile(self, levels) -> np.ndarray:
        """(N, H, Q): where one component holds all the weight (w = 0 or 1), that component's quantile
        exactly; elsewhere the root of F(x) = q inside the bracket of the components' quantiles (the
        mixture's lies between them): safeguarded Newton steps from the weighted mean of those (a step
        leaving the bracket is a bisection), and bisection for any cell they leave unconverged."""
        q = _levels(levels)
        each = np.stack([c.quantile(q) for c in self.components], -1)  # (N, H, Q, K)
        out = np.take_along_axis(each, self.weights.argmax(-1)[..., None, None], -1)[..., 0]  # the heaviest's
        mixed = ~(self.weights == 1.0).any(-1)  # (N, H) cells whose weight is split
        if not mixed.any():
            return out
        w = self.weights[mixed][:, None, :]  # (M, 1, K)
        parts = [tuple(np.broadcast_to(v, c.shape)[mixed][:, None] for v in (c.loc, c.scale, c.df))
                 for c in self.components]  # (loc, scale, df), each (M, 1)
        lo, hi = each[mixed].min(-1), each[mixed].max(-1)  # (M, Q)
        x, tol = np.sum(w * each[mixed], -1), NEWTON_TOL * np.maximum(hi - lo, np.finfo(float).tiny)
        done = hi - lo <= tol
        for _ in range(NEWTON_STEPS):
            cdf, pdf = _mixture_cdf_pdf(x, w, parts)
            below = cdf < q
            lo, hi = np.where(below & ~done, x, lo), np.where(below | done, hi, x)
            with np.errstate(divide="ignore", invalid="ignore"):
                step = x - (cdf - q) / pdf
            inside = (step >= lo) & (step <= hi)  # False for NaN
            converged = inside & (np.abs(step - x) <= tol)
            x = np.where(done, x, np.where(inside, step, (lo + hi) / 2.0))  # a converged cell stays where it is
            done |= converged
        left = ~done.all(-1)  # (M,) cells with a level the Newton steps left unconverged: bisection
        if left.any():
            sub_w, sub_parts, sub_lo, sub_hi = w[left], [tuple(v[left] for v in p) for p in parts], lo[left], hi[left]
            for _ in range(BISECTIONS):
                mid = (sub_lo + sub_hi) / 2.0
                below = _mixture_cdf_pdf(mid, sub_w, sub_parts)[0] < q
                sub_lo, sub_hi = np.where(below, mid, sub_lo), np.where(below, sub_hi, mid)
            x[left] = np.where(done[left], x[left], (sub_lo + sub_hi) / 2.0)
        out[mixed] = x
        return out

    def crps_parts(self, y) -> tuple[np.ndarray, np.ndarray]:
        """(to_outcome (N, H, K), spread (N, H, K, K)): E|X_k - y| and E|X_j - X_k|, so that the CRPS of any
        weights w is sum_k w_k to_outcome_k - 1/2 sum_jk w_j w_k spread_jk (a combination weight chosen on
        a grid without recomputing the parts)."""
        y = self._outcomes(y)
        k = len(self.components)
        own = [c.scale * _spread(np.broadcast_to(c.df, c.shape)) for c in self.components]  # E|X_k - X_k'|
        to_outcome = np.stack([c.crps(y) + own[i] / 2.0 for i, c in enumerate(self.components)], -1)
        spread = np.zeros(self.shape + (k, k))
        for i in range(k):
            spread[..., i, i] = own[i]
            for j in range(i + 1, k):
                spread[..., i, j] = spread[..., j, i] = _cross_abs(self.components[i], self.components[j])
        return to_outcome, spread

    def crps(self, y) -> np.ndarray:
        """(N, H); where one component holds all the weight, that component's own CRPS exactly (so a
        combination at w = 0 or 1 scores as its member does, not up to rounding)."""
        y = self._outcomes(y)
        out = np.zeros(self.shape)
        mixed = np.ones(self.shape, dtype=bool)  # (N, H) cells where no component holds all the weight
        for k, c in enumerate(self.components):
            whole = self.weights[..., k] == 1.0
            if whole.any():
                out = np.where(whole, c.crps(y), out)
                mixed &= ~whole
        rows = np.flatnonzero(mixed.any(axis=1))  # origins with a mixed cell: only they need the cross terms
        if len(rows):
            part = self[rows]
            out[rows] = np.where(mixed[rows], mixture_crps(*part.crps_parts(y[rows]), part.weights), out[rows])
        return out


def mixture_crps(to_outcome: np.ndarray, spread: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(N, H) CRPS of the mixture with weights (K,) or (N, H, K) from Mixture.crps_parts."""
    w = np.broadcast_to(weights, to_outcome.shape)
    return np.sum(w * to_outcome, -1) - 0.5 * np.einsum("...j,...jk,...k->...", w, spread, w)


Distribution = Union[Predictive, Empirical, Quantiles, Mixture]


def concat(parts: Sequence[Distribution]) -> Distribution:
    """Join distributions of consecutive folds along the origins (all of one form)."""
    parts = list(parts)
    if not parts:
        raise ForecasterError("nothing to concatenate: no distributions given")
    kind = type(parts[0])
    if any(type(p) is not kind for p in parts):
        raise ForecasterError(f"cannot join distributions of different forms: {sorted({type(p).__name__ for p in parts})}")
    if kind is Predictive:
        scalar = all(np.ndim(p.df) == 0 for p in parts) and len({p.df for p in parts}) == 1
        df = parts[0].df if scalar else np.concatenate([np.broadcast_to(p.df, p.shape) for p in parts])
        return Predictive(np.concatenate([p.loc for p in parts]), np.concatenate([p.scale for p in parts]), df)
    if kind is Mixture:
        if len({len(p.components) for p in parts}) != 1:
            raise ForecasterError("cannot join mixtures of different numbers of components")
        comps = tuple(concat([p.components[k] for p in parts]) for k in range(len(parts[0].components)))
        return Mixture(np.concatenate([p.weights for p in parts]), comps)
    if kind is Quantiles:
        if any(not np.array_equal(p.levels, parts[0].levels) for p in parts):
            raise ForecasterError("cannot join quantile grids with different levels")
        return Quantiles(parts[0].levels, np.concatenate([p.values for p in parts]))
    if len({p.samples.shape[-1] for p in parts}) != 1:
        raise ForecasterError(f"cannot join samples of sizes {sorted({p.samples.shape[-1] for p in parts})}: "
                              f"give every fold the same number of samples")
    offsets = np.cumsum([0] + [len(p.samples) for p in parts[:-1]])
    return Empirical(np.concatenate([p.loc for p in parts]), np.concatenate([p.scale for p in parts]),
                     np.concatenate([p.samples for p in parts]),
                     np.concatenate([p.group + o for p, o in zip(parts, offsets)]))
