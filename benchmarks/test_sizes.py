"""Size and power of the backtest's significance tests on simulated data where the truth is known.

    PYTHONPATH=. nice -n 10 python benchmarks/test_sizes.py                  # full tables, 2,000 replications
    PYTHONPATH=. nice -n 10 python benchmarks/test_sizes.py --json out.json  # the same, and JSON
    PYTHONPATH=. python benchmarks/test_sizes.py --quick                     # 300 replications

PYTHONPATH picks the checkout whose forecaster.evaluation.stats is measured (another checkout's path
measures that one: how the 'before' figures were taken).

Every test is the project's own (forecaster.evaluation.stats), called once per simulated series; the
simulations are vectorised over replications. Rates are shares of replications whose one-sided
p-value is below ALPHA; with R replications the standard error of a 5% rate is sqrt(.05 * .95 / R).

1. Pesaran-Timmermann on random walks: N_PT origins, steps 1..H_PT; the forecast is the reversion to
   the trailing 20-bar mean of the log close (persistent, and independent of the future). Per step
   (pesaran_timmermann with h) and over all steps (forecast_stats' overall PT).
2. Diebold-Mariano between two volatility forecasts on GARCH(1,1) returns with Gaussian innovations,
   N_DM origins, h = 1. Each forecast is a normal distribution with scale sigma_t * exp(e_t), e an
   AR(1) in logs with coefficient PHI and stationary sd SCALE_SD, independent between the two:
   equally good, so every rejection is a false one. Losses: CRPS (crps_normal) and the squared error
   of the variance forecast, (y^2 - s^2)^2. With PHI = 0 the power against a forecast whose log-scale
   error is twice as large is reported too.
3. Diebold-Mariano on squared errors of mean forecasts of h-step returns of random walks (overlapping:
   MA(h-1) under the null), h = 1..H_PT: size between two persistent AR(1) noise forecasts (NOISE_PHI,
   sd half the return's), size between the reversion forecast and its mirror image (equal expected
   loss; the forecasts react to the returns they are scored on), and the power against the random
   walk of a forecast holding SKILL of the future return plus noise (MEAN_GAIN less expected loss).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
from scipy.signal import lfilter

from forecaster.evaluation import stats
from forecaster.probabilistic.distributions import crps_normal

ALPHA = 0.05  # the level of every one-sided test
REPS = 2000  # replications of the full run
QUICK_REPS = 300  # replications of --quick
SEED = 21  # issue 21

N_PT = 760  # PT origins
H_PT = 5  # PT steps (and the steps of the mean-forecast DM check)
MEAN_WINDOW = 20  # bars of the trailing mean the PT forecast reverts to
STEP_SD = 0.006  # daily log-return sd of the random walks

N_DM = 762  # DM origins
BURN = 500  # GARCH bars simulated before the first origin
GARCH = (0.05, 0.93)  # (alpha, beta) of the GARCH(1,1); omega sets the unconditional sd to STEP_SD
PHI = 0.98  # AR(1) coefficient of the log-scale errors
SCALE_SD = 0.15  # stationary sd of the log-scale errors
POWER_SD = 0.30  # the worse forecast's log-scale error sd in the power row
NOISE_PHI = 0.9  # AR(1) coefficient of the two no-skill mean forecasts (independent of prices)
MEAN_GAIN = 0.05  # the skilled mean forecast's expected squared error is this much below the random walk's
SKILL = 0.15  # share of the future h-step return it holds; its noise makes up the rest


# ----------------------------------------------------------------------------- simulations

def walks(rng: np.random.Generator, reps: int, n: int, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Random walks: actual (R, n, steps) cumulative returns from n origins, and the forecast (R, n)
    'back to the trailing MEAN_WINDOW-bar mean' of the log close at each origin."""
    log_close = np.cumsum(rng.normal(0.0, STEP_SD, (reps, MEAN_WINDOW + n + steps)), axis=1)  # (R, T)
    t = np.arange(MEAN_WINDOW, MEAN_WINDOW + n)  # (n,) origin bars
    actual = log_close[:, t[:, None] + np.arange(1, steps + 1)] - log_close[:, t, None]  # (R, n, steps)
    window = np.lib.stride_tricks.sliding_window_view(log_close, MEAN_WINDOW, axis=1)  # (R, T-W+1, W)
    trailing = window[:, t - MEAN_WINDOW + 1].mean(axis=-1)  # (R, n) mean of bars t-W+1..t
    return actual, trailing - log_close[:, t]


def garch_returns(rng: np.random.Generator, reps: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """GARCH(1,1) returns with Gaussian innovations: y (R, n) and the true conditional sd (R, n)."""
    a, b = GARCH
    omega = STEP_SD**2 * (1.0 - a - b)
    var = np.full(reps, STEP_SD**2)
    ys, sds = np.empty((reps, BURN + n)), np.empty((reps, BURN + n))
    for t in range(BURN + n):
        sds[:, t] = np.sqrt(var)
        ys[:, t] = sds[:, t] * rng.standard_normal(reps)
        var = omega + a * ys[:, t] ** 2 + b * var
    return ys[:, BURN:], sds[:, BURN:]


def log_scale_errors(rng: np.random.Generator, reps: int, n: int, phi: float, sd: float) -> np.ndarray:
    """(R, n) AR(1) log-scale errors with coefficient phi and stationary sd, started stationary."""
    shocks = rng.normal(0.0, sd * np.sqrt(1.0 - phi**2), (reps, n))
    shocks[:, 0] = rng.normal(0.0, sd, reps)
    return lfilter([1.0], [1.0, -phi], shocks, axis=1)


def vol_losses(y: np.ndarray, scale: np.ndarray) -> dict:
    """Per-origin losses of a normal(0, scale) forecast of y: {'crps', 'squared'} (R, n) each."""
    return {"crps": scale * crps_normal(y / scale), "squared": (y**2 - scale**2) ** 2}


# ----------------------------------------------------------------------------- rates

def rate(p: list) -> float:
    return float(np.mean(np.asarray(p) < ALPHA))


def pt_table(rng: np.random.Generator, reps: int) -> list[dict]:
    actual, forecast = walks(rng, reps, N_PT, H_PT)
    rows = []
    for h in range(1, H_PT + 1):
        p = [stats.pesaran_timmermann(forecast[r], actual[r, :, h - 1], h=h)["pt_p"] for r in range(reps)]
        rows.append({"step": str(h), "size": rate(p)})
    pred = np.repeat(forecast[:, :, None], H_PT, axis=2)  # (R, n, H) the same direction at every step
    ones = np.ones(N_PT)
    p = [stats.forecast_stats(pred[r], actual[r], ones, np.ones(H_PT))["overall"]["pt_p"] for r in range(reps)]
    rows.append({"step": "overall", "size": rate(p)})
    return rows


def dm_both_ways(loss_a: np.ndarray, loss_b: np.ndarray, h: int) -> tuple[float, float]:
    """Rejection rates of 'a better' and 'a worse' over the replications of (R, n) losses."""
    res = [stats.diebold_mariano(loss_a[r], loss_b[r], h) for r in range(len(loss_a))]
    return rate([x["dm_p"] for x in res]), rate([x["dm_p_worse"] for x in res])


def dm_vol_table(rng: np.random.Generator, reps: int) -> list[dict]:
    y, sd = garch_returns(rng, reps, N_DM)
    rows = []
    for phi, sd_b in ((PHI, SCALE_SD), (0.0, SCALE_SD), (0.0, POWER_SD)):
        la = vol_losses(y, sd * np.exp(log_scale_errors(rng, reps, N_DM, phi, SCALE_SD)))
        lb = vol_losses(y, sd * np.exp(log_scale_errors(rng, reps, N_DM, phi, sd_b)))
        for loss in ("crps", "squared"):
            better, worse = dm_both_ways(la[loss], lb[loss], 1)
            what = "size" if sd_b == SCALE_SD else f"power vs sd {sd_b}"
            rows.append({"persistence": phi, "loss": loss, "what": what, "better": better, "worse": worse})
    return rows


def dm_mean_table(rng: np.random.Generator, reps: int) -> list[dict]:
    actual, forecast = walks(rng, reps, N_PT, H_PT)
    rows = []
    for h in range(1, H_PT + 1):
        y = actual[:, :, h - 1]  # (R, n) overlapping h-step returns
        sd_h = STEP_SD * np.sqrt(h)
        noise = log_scale_errors(rng, 2 * reps, N_PT, NOISE_PHI, 0.5 * sd_h).reshape(2, reps, N_PT)
        size_b, size_w = dm_both_ways((noise[0] - y) ** 2, (noise[1] - y) ** 2, h)  # persistent, no feedback
        signal = forecast / forecast.std() * 0.5 * sd_h  # reversion to the mean: reacts to past returns
        mirror_b, mirror_w = dm_both_ways((signal - y) ** 2, (-signal - y) ** 2, h)
        noise_sd = np.sqrt(2 * SKILL - SKILL**2 - MEAN_GAIN)  # E[(f - y)^2] = (1 - MEAN_GAIN) E[y^2]
        skilled = SKILL * y + noise_sd * sd_h * rng.standard_normal(y.shape)
        power, _ = dm_both_ways((skilled - y) ** 2, y**2, h)  # against the random walk's zero
        rows.append({"h": h, "size_better": size_b, "size_worse": size_w, "mirror_better": mirror_b,
                     "mirror_worse": mirror_w, "power_vs_rw": power})
    return rows


# ----------------------------------------------------------------------------- output

def markdown(result: dict) -> str:
    out = [f"PT on random walks ({result['reps']} replications, {N_PT} origins, reversion to the "
           f"{MEAN_WINDOW}-bar mean), rejection rate at {ALPHA:.0%}:", "", "| step | size |", "|---|---|"]
    out += [f"| {r['step']} | {100 * r['size']:.2f}% |" for r in result["pt"]]
    out += ["", f"DM between two volatility forecasts on GARCH(1,1) ({N_DM} origins, h = 1, log-scale errors "
            f"AR(1) with sd {SCALE_SD}), one-sided rejection rate at {ALPHA:.0%}:", "",
            "| persistence | loss | what | 'better' | 'worse' |", "|---|---|---|---|---|"]
    out += [f"| {r['persistence']} | {r['loss']} | {r['what']} | {100 * r['better']:.2f}% | {100 * r['worse']:.2f}% |"
            for r in result["dm_vol"]]
    out += ["", f"DM on squared errors of mean forecasts of h-step random-walk returns ({N_PT} origins):", "",
            "| h | size 'better' | size 'worse' | mirror 'better' | mirror 'worse' | power vs the random walk |",
            "|---|---|---|---|---|---|"]
    out += [f"| {r['h']} | {100 * r['size_better']:.2f}% | {100 * r['size_worse']:.2f}% | "
            f"{100 * r['mirror_better']:.2f}% | {100 * r['mirror_worse']:.2f}% | {100 * r['power_vs_rw']:.2f}% |"
            for r in result["dm_mean"]]
    return "\n".join(out)


def run(reps: int, seed: int = SEED) -> dict:
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    result = {"reps": reps, "seed": seed, "alpha": ALPHA, "pt": pt_table(rng, reps),
              "dm_vol": dm_vol_table(rng, reps), "dm_mean": dm_mean_table(rng, reps)}
    result["seconds"] = round(time.perf_counter() - start, 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=None, help=f"replications (default {REPS}, --quick {QUICK_REPS})")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_REPS} replications")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--json", default=None, help="also write the result there as JSON")
    args = parser.parse_args()
    reps = args.reps or (QUICK_REPS if args.quick else REPS)
    result = run(reps, args.seed)
    result["machine"] = f"{platform.node()} {platform.processor() or platform.machine()}, python {platform.python_version()}"
    print(markdown(result))
    print(f"\n{reps} replications, seed {args.seed}, {result['seconds']} s")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
