"""The one sentence about skill: better than, worse than, or indistinguishable from the random walk.

Every place that tells a person whether a model has skill (train, backtest, demo, benchmark, README)
builds the words here, so that none can claim more than its test shows:

    better             the one-sided Diebold-Mariano test "model more accurate" gives p < alpha
    worse              the one-sided test "model less accurate" gives p < alpha
    indistinguishable  neither; the two-sided p-value is shown

The sentence always names the p-value and how many windows (origins) of which split it rests on.
The DM test is forecaster.evaluation.stats.diebold_mariano (the larger of an equal-weighted cosine and a
truncated long-run variance, Student-t critical values: it keeps its size on persistent losses).
"""

from __future__ import annotations

import math
import numpy as np

from forecaster.configs import ALPHA
from forecaster.errors import ForecasterError

WORDS = ("better", "worse", "indistinguishable")


def _check_p(name: str, p: float) -> float:
    p = float(p)
    if not (math.isnan(p) or 0.0 <= p <= 1.0):
        raise ForecasterError(f"{name}={p!r} is not a p-value: accepted a number in [0, 1] or NaN (test undefined)")
    return p


def verdict_word(dm_p_better: float, dm_p_worse: float, alpha: float = ALPHA) -> str:
    """'better', 'worse' or 'indistinguishable' from the two one-sided DM p-values."""
    p_b, p_w = _check_p("dm_p_better", dm_p_better), _check_p("dm_p_worse", dm_p_worse)
    if not 0.0 < alpha < 0.5:
        raise ForecasterError(f"alpha={alpha!r} is invalid: accepted a level in (0, 0.5), e.g. 0.05")
    if p_b < alpha:
        return "better"
    if p_w < alpha:
        return "worse"
    return "indistinguishable"


def verdict_vs_random_walk(dm_p_better: float, dm_p_worse: float, n: int, split: str, alpha: float = ALPHA,
                           baseline: str = "the random walk", unit: str = "window") -> str:
    """The sentence, e.g. 'better than the random walk (DM p = 0.012, one-sided, n = 740 test windows)'.

    dm_p_better, dm_p_worse: one-sided DM p-values for H1 "model more accurate" and "model less
    accurate" (stats.diebold_mariano's dm_p and dm_p_worse); n the windows (or other units) the test
    used; split names them ("test", "validation"); baseline what the model is compared with. NaN
    p-values (no loss difference at all) read as indistinguishable."""
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ForecasterError(f"n={n!r} is invalid: accepted the number of windows, an integer >= 0")
    if not isinstance(split, str) or not split.strip():
        raise ForecasterError(f"split={split!r} is invalid: accepted the name of the split, e.g. 'test' or 'validation'")
    word = verdict_word(dm_p_better, dm_p_worse, alpha)
    windows = f"n = {int(n)} {split.strip()} {unit}{'' if n == 1 else 's'}"
    p_b, p_w = float(dm_p_better), float(dm_p_worse)
    if word == "better":
        return f"better than {baseline} (DM {_p(p_b)}, one-sided, {windows})"
    if word == "worse":
        return f"worse than {baseline} (DM {_p(p_w)}, one-sided, {windows})"
    if math.isnan(p_b) or math.isnan(p_w):
        return f"indistinguishable from {baseline} (no loss difference to test, {windows})"
    return f"indistinguishable from {baseline} (DM {_p(min(1.0, 2 * min(p_b, p_w)))}, two-sided, {windows})"


def compare_with_random_walk(loss_model: np.ndarray, loss_random_walk: np.ndarray, h: int, split: str,
                             alpha: float = ALPHA) -> dict:
    """Run the DM test both ways on per-window losses (N,) of h-step forecasts and give the verdict.

    Returns {"verdict": "better" | "worse" | "indistinguishable", "text": the sentence, "dm_stat",
    "dm_p_better", "dm_p_worse", "n", "h", "split"}."""
    from forecaster.evaluation.stats import diebold_mariano

    a, b = np.asarray(loss_model, dtype=np.float64), np.asarray(loss_random_walk, dtype=np.float64)
    if a.ndim != 1 or a.shape != b.shape:
        raise ForecasterError(f"losses of shape {a.shape} and {b.shape}: accepted two (N,) arrays of the same length")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise ForecasterError("the losses hold NaN or infinite values: accepted finite numbers only")
    if not isinstance(h, (int, np.integer)) or h < 1:
        raise ForecasterError(f"h={h!r} is invalid: accepted the forecast step, an integer >= 1")
    dm = diebold_mariano(a, b, int(h))
    return {"verdict": verdict_word(dm["dm_p"], dm["dm_p_worse"], alpha),
            "text": verdict_vs_random_walk(dm["dm_p"], dm["dm_p_worse"], len(a), split, alpha),
            "dm_stat": dm["dm_stat"], "dm_p_better": dm["dm_p"], "dm_p_worse": dm["dm_p_worse"],
            "n": int(len(a)), "h": int(h), "split": split}


def point_vs_random_walk(point: np.ndarray, y: np.ndarray, split: str, alpha: float = ALPHA) -> dict:
    """A point forecast (N, H) of targets y (N, H) beside the no-change forecast (0): the MSE of each
    ("mse", "mse_random_walk") and compare_with_random_walk on the per-window MSE over the H steps
    (diebold_mariano at h = H: consecutive windows overlap by H-1 steps)."""
    err, base = (point - y) ** 2, y**2
    return {"mse": float(np.mean(err)), "mse_random_walk": float(np.mean(base)),
            **compare_with_random_walk(np.mean(err, axis=1), np.mean(base, axis=1), y.shape[1], split, alpha)}


def _p(p: float) -> str:
    """'p = 0.012', or 'p < 0.001' for the smallest."""
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def spa_sentence(spa: dict, alpha: float = ALPHA) -> str:
    """One line on the multiple-comparison test (stats.spa_test / spa_vs_random_walk)."""
    m, n = spa.get("models", 0), spa.get("n", 0)
    if not m:
        return "SPA test: no model other than the random walk to compare"
    p, rc = spa.get("spa_p", math.nan), spa.get("reality_check_p", math.nan)
    found = "some model beats" if p < alpha else "no model is shown to beat"
    return (f"SPA test over {m} model{'s' if m != 1 else ''}: {found} the random walk (Hansen SPA {_p(p)}, "
            f"White Reality Check {_p(rc)}, n = {n} windows, block {spa.get('block')}, {spa.get('reps')} bootstraps)")


def compare_with_baseline(loss_model: np.ndarray, loss_base: np.ndarray, h: int, split: str, baseline: str,
                          alpha: float = ALPHA, unit: str = "origin") -> dict:
    """compare_with_random_walk against any named baseline (e.g. a forecast distribution's per-origin
    CRPS beside GARCH-t's): {"verdict", "text", "dm_stat", "dm_p_better", "dm_p_worse", "n", "h", "split"},
    the text e.g. 'indistinguishable from GARCH-t (DM p = 0.41, two-sided, n = 120 validation origins)'."""
    out = compare_with_random_walk(loss_model, loss_base, h, split, alpha)
    text = verdict_vs_random_walk(out["dm_p_better"], out["dm_p_worse"], out["n"], split, alpha, baseline, unit)
    return {**out, "text": text}
