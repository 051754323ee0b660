"""Gap to the oracle of the anchored Mamba (issue 20) on the simulated markets, beside EWMA and GARCH-t.

A stand-in for `forecaster benchmark oracle` (being written on another branch) for this design: each
market and seed is simulated (forecaster.probabilistic.markets), walked forward once by the product's
run_backtest (fitted before the test, retrain_every 0) with the anchored Mamba ("mamba": the GARCH-t
combination; "mamba_raw": the ensemble alone), EWMA, GARCH-t and hist_vol, and scored against the
oracle (forecaster.probabilistic.oracle.oracle_scores: exact at step 1, Monte Carlo beyond).
Seeds are pooled by concatenating origins; DM: mean CRPS over the H steps per origin, model minus
GARCH-t (negative = better), forecaster.evaluation.stats.diebold_mariano on the pooled origins.

    PYTHONPATH=. nice -n 10 python benchmarks/anchored_oracle.py --seeds 1 2 --jobs 2 --out /tmp/anchored_oracle
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

DAYS = 9000  # simulated business days per draw (the prototype's)
TEST_ROW = 6500  # first test origin row: about 2,495 origins
MARKETS = ("garch_t", "gjr_garch_t", "harch_t", "markov_switching")
MODELS = ("mamba", "mamba_raw", "ewma", "garch_t", "hist_vol")
H = 5


def run_one(market_name: str, seed: int, out: str) -> str:
    import torch

    torch.set_num_threads(1)
    from forecaster.backtest import run_backtest
    from forecaster.backtest.neural import AnchoredMambaModel
    from forecaster.configs import AnchoredConfig, BacktestConfig
    from forecaster.data import PriceSeries
    from forecaster.probabilistic import markets as mk
    from forecaster.probabilistic.oracle import oracle_scores
    from forecaster.probabilistic.risk import EWMA, GarchT, HistoricalVol

    market = mk.MARKETS[market_name]
    path = market.simulate(DAYS, seed=seed)
    series = PriceSeries(frame=mk.price_frame(path.returns), pair="SIMUSD", source="simulated")
    net = AnchoredMambaModel(AnchoredConfig(horizon=H, seed=1000 * seed))
    models = [net, net.raw(), EWMA(H), GarchT(H), HistoricalVol(H)]
    began = time.perf_counter()
    result = run_backtest(series, models, BacktestConfig(horizon=H, test_start=str(series.frame.index[TEST_ROW].date()),
                                                         calibration="static"))
    seconds = time.perf_counter() - began
    crps = {m: result.distributions[m].crps(result.actual) for m in MODELS}  # (N, H) each
    inside = {}
    for m in MODELS:
        for level in (0.8, 0.95):
            lo, hi = result.distributions[m].interval(level)
            inside[f"{m}_{round(level * 100)}"] = (result.actual >= lo) & (result.actual <= hi)
    oracle = oracle_scores(market, path, result.origins, H, crps_histvol=crps["hist_vol"])
    file = Path(out) / f"{market_name}_{seed}.npz"
    np.savez(file, oracle=oracle.crps, **{f"crps_{m}": c for m, c in crps.items()},
             **{f"inside_{k}": v for k, v in inside.items()})
    meta = {"fit_log": net.fit_log, "seconds": seconds, "fit_seconds": result.info["fit_seconds"],
            "oracle_paths": oracle.n_paths}
    (Path(out) / f"{market_name}_{seed}.json").write_text(json.dumps(meta, indent=1, default=float))
    return str(file)


def table(out: str, seeds) -> str:
    from forecaster.evaluation.stats import diebold_mariano
    from forecaster.probabilistic.oracle import gap_closed

    lines = ["| market | model | gap1 | gap5 | all steps | cov80 | cov95 | DM vs GARCH-t t (p worse / p better) | "
             "min_h(gap - EWMA) | w per seed | fit s per seed |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name in MARKETS:
        runs = [np.load(Path(out) / f"{name}_{s}.npz") for s in seeds if (Path(out) / f"{name}_{s}.npz").exists()]
        metas = [json.loads((Path(out) / f"{name}_{s}.json").read_text()) for s in seeds
                 if (Path(out) / f"{name}_{s}.json").exists()]
        if not runs:
            continue
        cat = {k: np.concatenate([r[k] for r in runs]) for k in runs[0].files}
        ewma_gap = gap_closed(cat["crps_hist_vol"], cat["crps_ewma"], cat["oracle"])
        for m in MODELS:
            if m == "hist_vol":
                continue
            gap = gap_closed(cat["crps_hist_vol"], cat[f"crps_{m}"], cat["oracle"])
            pooled = gap_closed(cat["crps_hist_vol"], cat[f"crps_{m}"], cat["oracle"], axis=None)
            if m == "garch_t":
                dm = "-"
            else:
                better = diebold_mariano(cat[f"crps_{m}"].mean(1), cat["crps_garch_t"].mean(1), H)
                worse = diebold_mariano(cat["crps_garch_t"].mean(1), cat[f"crps_{m}"].mean(1), H)
                dm = f"{better['dm_stat']:+.2f} ({worse['dm_p']:.3f} / {better['dm_p']:.3f})"
            w = "/".join(f"{mt['fit_log'][0]['weight']:.1f}" for mt in metas) if m == "mamba" else ""
            secs = "/".join(f"{mt['fit_seconds']['mamba']:.0f}" for mt in metas) if m == "mamba" else ""
            lines.append(f"| {name} | {m} | {gap[0]:.3f} | {gap[4]:.3f} | {pooled:.3f} | "
                         f"{cat[f'inside_{m}_80'].mean():.3f} | {cat[f'inside_{m}_95'].mean():.3f} | {dm} | "
                         f"{np.min(gap - ewma_gap):+.3f} | {w} | {secs} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markets", nargs="*", default=list(MARKETS))
    parser.add_argument("--seeds", nargs="*", type=int, default=[1, 2])
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--out", default="reports/anchored_oracle")
    parser.add_argument("--table-only", action="store_true")
    args = parser.parse_args()
    Path(args.out).mkdir(parents=True, exist_ok=True)
    if not args.table_only:
        tasks = [(m, s) for m in args.markets for s in args.seeds]
        with ProcessPoolExecutor(args.jobs) as pool:
            for done in pool.map(run_one, *zip(*tasks), [args.out] * len(tasks)):
                print("done", done, flush=True)
    print(table(args.out, args.seeds))


if __name__ == "__main__":
    main()
