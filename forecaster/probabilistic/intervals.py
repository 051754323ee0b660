"""Prediction intervals: split-conformal calibration on the validation split, and online
(adaptive) conformal recalibration over a walk-forward test.

For a level a (0.8 means an 80% interval), per horizon step h:
  - with quantile heads at (1-a)/2 and (1+a)/2: conformalised quantile regression (Romano et al.
    2019): scores s = max(q_lo - y, y - q_hi); interval [q_lo - c, q_hi + c];
  - otherwise: absolute residuals s = |y - y_hat| around the point forecast; interval y_hat -+ c;
where c is the ceil((n+1) a)-th smallest of the n validation scores. Under exchangeability this
covers at least a of new targets; the test split's empirical coverage is reported beside it.
All values here are in the model's scaled-target space (monotone in price).

Online calibration over a walk-forward test: adaptive conformal inference (ACI).

Gibbs & Candes (2021), "Adaptive conformal inference under distribution shift", NeurIPS: keep a
miscoverage rate alpha_t per level (and here per horizon step) and move it after every realised
outcome,
    alpha_{t+1} = alpha_t + gamma (alpha - err_t),   err_t = 1 if y_t fell outside the interval issued,
so that misses raise the interval's quantile level and hits lower it; over any stretch of T outcomes
the miss rate stays within (1 + gamma) / (gamma T) of alpha whatever the data do (for the paper's
version; see the departures below).

The conformity score normalises the model's own interval [l, u] (centre c, half-width w):
    s = |y - c| / w          (s <= 1: inside the model's interval)
and the interval issued is c -+ w * q_t, with q_t = the ceil((n + 1)(1 - alpha_t))-th smallest of
the n most recent realised scores (`window`; 0 = all). q_t is the factor by which the model's width is
widened (> 1) or narrowed (< 1). Static split conformal (method="static") fixes q from calibration
scores and never updates it.

Delay: the step-h outcome of the origin at bar t is known at bar t + h, so at an origin only
outcomes of earlier origins with origin + h <= this origin have updated alpha_t and the scores:
no look-ahead. Departures from the paper: where 1 - alpha_t calls for more than the largest score
seen (the paper's infinite interval), the largest score is used, so intervals stay finite and the
interval score defined; where alpha_t >= 1 (the paper's empty set) the factor is 0. Until
`min_scores` outcomes are known the model's own interval is issued (factor 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from forecaster.configs import CALIBRATIONS
from forecaster.errors import ForecasterError

LEVELS = (0.8, 0.95)  # the central intervals every forecast gives
QUANTILE_LEVELS = (0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.975)  # the quantiles reported and scored


def interval_quantiles(levels=LEVELS) -> tuple:
    """The quantile levels whose values make the central intervals at `levels`, and the median:
    (0.025, 0.1, 0.5, 0.9, 0.975) for LEVELS."""
    ends = [round((1 - s * lv) / 2, 10) for lv in levels for s in (1, -1)]
    return tuple(sorted({*ends, 0.5}))


def _quantile_index(quantiles: tuple, q: float):
    for i, value in enumerate(quantiles):
        if abs(value - q) < 1e-9:
            return i
    return None


def point_forecast(pred, quantiles: tuple, distribution: str = "none"):
    """(..., H, C[, Q or P]) numpy array or tensor -> the point forecast: the output itself, the
    location of a parametric head (params[..., 0]), or the median head (the quantile nearest 0.5)."""
    if distribution != "none":
        return pred[..., 0]
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


def inside(y: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Whether each target lies in [lower, upper] (same shape)."""
    return (y >= lower) & (y <= upper)


def coverage(y: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    """Share of targets inside [lower, upper]."""
    return float(np.mean(inside(y, lower, upper)))


def width(lower: np.ndarray, upper: np.ndarray) -> float:
    return float(np.mean(upper - lower))


# ----------------------------------------------------------------------------- online (walk-forward)



@dataclass
class OnlineConformalConfig:
    method: str = "aci"  # aci (Gibbs & Candes 2021) | static (split conformal: factor fixed from calibration)
    gamma: float = 0.005  # ACI step size of alpha_t per realised outcome
    window: int = 250  # most recent realised scores the factor is taken from (0 = all)
    min_scores: int = 20  # before this many realised scores, the model's own interval (factor 1)

    def __post_init__(self) -> None:
        if self.method not in CALIBRATIONS:
            raise ForecasterError(f"conformal method {self.method!r} unknown: accepted {', '.join(CALIBRATIONS)}")
        if not 0 <= self.gamma < 1:
            raise ForecasterError(f"ACI gamma={self.gamma!r} invalid: accepted a step size in [0, 1), e.g. 0.005")
        if self.window < 0 or self.min_scores < 1:
            raise ForecasterError(f"window={self.window!r}, min_scores={self.min_scores!r} invalid: accepted "
                                  f"window >= 0 (0 = all) and min_scores >= 1")


def conformity_scores(lower: np.ndarray, upper: np.ndarray, actual: np.ndarray) -> np.ndarray:
    """|y - centre| / half-width of the model's interval, (N, H); 1 on its edge."""
    half = (np.asarray(upper) - np.asarray(lower)) / 2.0
    if np.any(~(half > 0)):
        raise ForecasterError("conformal calibration needs intervals of positive width (lower < upper)")
    return np.abs(np.asarray(actual) - (np.asarray(upper) + np.asarray(lower)) / 2.0) / half


class AdaptiveConformal:
    """The online state of one level and one horizon step: alpha_t and the realised scores."""

    def __init__(self, level: float, config: OnlineConformalConfig = None, calibration=()):
        if not 0 < level < 1:
            raise ForecasterError(f"interval level {level!r} is invalid: accepted a coverage in (0, 1)")
        self.level, self.config = float(level), config or OnlineConformalConfig()
        self.alpha = 1.0 - self.level
        self.scores = [float(s) for s in np.ravel(calibration)]
        self._static = self._quantile(self.level) if self.config.method == "static" else None

    def _quantile(self, coverage: float) -> float:
        cfg = self.config
        recent = self.scores[-cfg.window:] if cfg.window else self.scores
        if len(recent) < cfg.min_scores:
            return 1.0
        if coverage <= 0:
            return 0.0
        n = len(recent)
        k = min(math.ceil((n + 1) * coverage), n)  # beyond the largest score: the largest (finite)
        return float(np.partition(recent, k - 1)[k - 1])

    def factor(self) -> float:
        """The width factor q_t for the next interval issued."""
        return self._static if self._static is not None else self._quantile(1.0 - self.alpha)

    def update(self, score: float, issued_factor: float) -> None:
        """A realised outcome: its score and the factor of the interval that was issued for it."""
        if self._static is not None:
            return
        miss = float(score > issued_factor)
        self.alpha += self.config.gamma * ((1.0 - self.level) - miss)
        self.scores.append(float(score))
        if self.config.window and len(self.scores) > 4 * self.config.window:
            del self.scores[: -self.config.window]  # keep memory bounded; only the window is read


def conformalize(lower: np.ndarray, upper: np.ndarray, actual: np.ndarray, level: float,
                 config: OnlineConformalConfig = None, origins=None, calibration=None) -> dict:
    """Recalibrate a model's walk-forward intervals online, origin by origin.

    lower, upper, actual (N, H) in time order; origins (N,) bar rows (default 0..N-1: consecutive
    bars); calibration (n, H) conformity scores from before the test (optional: the static method
    needs them, ACI starts from them). Outcome (i, h) is used only at origins j with
    origins[i] + h <= origins[j]. Returns {"lower", "upper", "factor", "alpha"}, each (N, H)."""
    config = config or OnlineConformalConfig()
    lower, upper, actual = (np.asarray(a, dtype=np.float64) for a in (lower, upper, actual))
    n, horizon = lower.shape
    if upper.shape != (n, horizon) or actual.shape != (n, horizon):
        raise ForecasterError(f"lower {lower.shape}, upper {upper.shape} and actual {actual.shape} must match")
    if config.method == "static" and calibration is None:
        raise ForecasterError("static conformal needs calibration scores (from a calibration split)")
    origins = np.arange(n) if origins is None else np.asarray(origins, dtype=int)
    if origins.shape != (n,) or np.any(np.diff(origins) <= 0):
        raise ForecasterError(f"origins must be {n} increasing bar rows")
    scores = conformity_scores(lower, upper, actual)  # (N, H); row i read only once known
    centre, half = (upper + lower) / 2.0, (upper - lower) / 2.0
    factor, alpha = np.empty((n, horizon)), np.empty((n, horizon))
    for h in range(horizon):
        cal = () if calibration is None else np.asarray(calibration, dtype=np.float64)[:, h]
        state = AdaptiveConformal(level, config, cal)
        known = np.searchsorted(origins, origins - (h + 1), side="right")  # origins i < known[j] are realised at j
        done = 0
        for j in range(n):
            for i in range(done, known[j]):
                state.update(scores[i, h], factor[i, h])
            done = max(done, known[j])
            factor[j, h], alpha[j, h] = state.factor(), state.alpha
    return {"lower": centre - half * factor, "upper": centre + half * factor, "factor": factor, "alpha": alpha}


def conformalize_bands(bands: dict, actual: np.ndarray, config: OnlineConformalConfig = None,
                       origins=None, calibration: dict = None) -> dict:
    """{level: (lower (N, H), upper (N, H))} -> the same, recalibrated online (the backtest's layout).
    calibration: optional {level: scores (n, H)}."""
    out = {}
    for level, (lo, hi) in bands.items():
        cal = None if calibration is None else calibration.get(level)
        res = conformalize(lo, hi, actual, float(level), config, origins, cal)
        out[level] = (res["lower"], res["upper"])
    return out
