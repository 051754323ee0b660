"""What the factor market lets a forecaster learn (issue 20): the oracle benchmark's factor-market oracle
knows the latent volatility factor, which no forecaster sees, so its gap closed has a ceiling below 1.
This measures that ceiling, on the oracle table's draws and origins: the forecast of a particle filter
with the market's own parameters (FactorMarket.filter, forecaster.probabilistic.oracle.filter_crps) from

    own   the pair's own returns (the best a single-pair model can do), and
    all   every pair's returns (the best a cross-pair model can do),

each placed on the oracle table's scale (0 = hist_vol, 1 = the oracle), beside EWMA and GARCH-t, pooled
over the draws; and the one-sided DM test (per-origin CRPS over the H steps) of "all" against "own":
whether the other pairs' information is large enough to be told apart from noise on these draws at all.

    PYTHONPATH=. python benchmarks/factor_filter.py --jobs 3 --out factor_filter.md     # ~6 min on 2 cores
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from forecaster.backtest import run_backtest
from forecaster.benchmarks import oracle as ob
from forecaster.configs import BacktestConfig
from forecaster.evaluation.stats import diebold_mariano
from forecaster.probabilistic import markets as mk
from forecaster.probabilistic.oracle import filter_crps, gap_closed, oracle_scores
from forecaster.probabilistic.risk import default_risk_models
from forecaster.util.files import atomic_write_text

REPO = Path(__file__).resolve().parents[1]
PARTICLES = 2000  # particles of each filter (and so draws of each filtered forecast)
BASELINES = ("ewma", "garch_t")


def task(seed: int, days: int, test_years: float, horizon: int) -> dict:
    """One draw: the baselines' and the oracle's CRPS as the oracle table has them, and both filters'."""
    market = mk.MARKETS["factor"]
    path = market.simulate(days, seed=seed)
    pairs = ob._pair_names(market)  # the oracle table's pairs and series, so its origins too
    bt = BacktestConfig(horizon=horizon, test_years=test_years, retrain_every=0, calibration="static")
    crps = {}
    for i, pair in enumerate(pairs):
        res = run_backtest(ob._series(path.returns[:, i], pair), default_risk_models(horizon), bt)
        crps[pair] = {m: res.distributions[m].crps(res.actual) for m in (ob.ZERO,) + BASELINES}  # each (N, H)
    origins = res.origins
    hv = np.stack([crps[p][ob.ZERO] for p in pairs], axis=-1)  # (N, H, P)
    oracle = oracle_scores(market, path, origins, horizon, seed=seed, crps_histvol=hv).crps  # (N, H, P)
    every = filter_crps(market, path, origins, horizon, range(market.pairs), PARTICLES, seed)
    for i, pair in enumerate(pairs):
        crps[pair].update(oracle=oracle[..., i], all=every[..., i],
                          own=filter_crps(market, path, origins, horizon, [i], PARTICLES, seed)[..., i])
    return crps


def table(draws: list[dict]) -> str:
    rows = ["| pair | gap closed, all steps: EWMA / GARCH-t / filter own / filter all | filter all vs own: CRPS, "
            "one-sided DM p better | filter own vs GARCH-t: CRPS, p better |", "|---|---|---|---|"]
    for pair in draws[0]:
        cat = {m: np.concatenate([d[pair][m] for d in draws]) for m in draws[0][pair]}  # (N x draws, H)
        gaps = [gap_closed(cat[ob.ZERO], cat[m], cat["oracle"], axis=None) for m in BASELINES + ("own", "all")]
        cells = []
        for a, b in (("all", "own"), ("own", "garch_t")):
            p = diebold_mariano(cat[a].mean(1), cat[b].mean(1), cat[a].shape[1])["dm_p"]
            cells.append(f"{100 * (cat[a].mean() / cat[b].mean() - 1):+.3f}%, p = {p:.3f}")
        rows.append(f"| {pair} | " + " / ".join(f"{g:.2f}" for g in gaps) + " | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="*", default=list(range(ob.FULL.seeds)))
    parser.add_argument("--days", type=int, default=ob.FULL.days)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    began = time.perf_counter()
    with ProcessPoolExecutor(args.jobs) as pool:
        draws = list(pool.map(functools.partial(task, days=args.days, test_years=ob.FULL.test_years,
                                                horizon=ob.FULL.horizon), args.seeds))
    command = "python " + " ".join([os.path.relpath(sys.argv[0], REPO)] + sys.argv[1:])
    text = (f"Factor market: the particle filters' ceiling; {time.strftime('%Y-%m-%d')}; {ob.machine()}; seeds "
            f"{args.seeds}, {args.days} days, {PARTICLES} particles; wall {time.perf_counter() - began:.0f} s.\n"
            f"Command: `{command}`\n\n" + table(draws))
    print(text)
    if args.out:
        atomic_write_text(args.out, text + "\n")


if __name__ == "__main__":
    main()
