"""The cross-pair anchored models on the oracle's latent-factor market (issue 20): the single-pair model,
the cross-pair model (`cross_pairs`: the other pairs' volatility as inputs) and the pooled one (`pool`:
its members also train on every other pair's sequence), each with its ensemble beside it (NAME_raw),
against each other and GARCH-t by one-sided DM tests on the per-origin CRPS over the H steps, pooled
over the draws. One task per draw and pair (the oracle benchmark runs a draw's pairs one after another),
so a machine with many cores runs a whole design set at once; no oracle, so no gap closed.

    PYTHONPATH=. python benchmarks/cross_pair_variants.py --seeds 11 12 13 14 --jobs 16 --out pool     # ~5 min on 16 cores
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

H = 5
MODELS = ("mamba", "mamba_global", "mamba_pool")  # single-pair, cross-pair, pooled cross-pair
REFERENCES = ("mamba", "mamba_global", "garch_t")


def task(seed: int, index: int, days: int, test_years: float, out: str) -> str:
    """Backtest one pair of one factor draw (fitted once before the test years); write its per-origin CRPS."""
    import torch

    torch.set_num_threads(1)
    from dataclasses import replace

    from forecaster.backtest import run_backtest
    from forecaster.backtest.neural import AnchoredMambaModel
    from forecaster.benchmarks import oracle as ob
    from forecaster.configs import AnchoredConfig, BacktestConfig
    from forecaster.probabilistic import markets as mk
    from forecaster.probabilistic.risk import EWMA, GarchT, HistoricalVol

    began = time.perf_counter()
    market = mk.MARKETS["factor"]
    path = market.simulate(days, seed=seed)
    names = ob._pair_names(market)  # the oracle benchmark's pairs and series
    series = {q: ob._series(path.returns[:, k], q) for k, q in enumerate(names)}
    pair = names[index]
    base = AnchoredConfig(horizon=H, seed=1000 * seed)  # the oracle benchmark's training seeds
    configs = {"mamba": base, "mamba_global": replace(base, cross_pairs=True),
               "mamba_pool": replace(base, cross_pairs=True, pool=True)}
    models = [m for name in MODELS for m in AnchoredMambaModel(configs[name], name=name).with_raw()]
    result = run_backtest(series[pair], models + [EWMA(H), GarchT(H), HistoricalVol(H)],
                          BacktestConfig(horizon=H, test_years=test_years, retrain_every=0, calibration="static"),
                          context={q: s for q, s in series.items() if q != pair})
    np.savez(Path(out) / f"{seed}_{pair}.npz", **{m: d.crps(result.actual).mean(1) for m, d in result.distributions.items()})
    weights = {m: log[0]["weight"] for m, log in result.info["fit_log"].items() if "weight" in log[0]}
    return f"{pair} draw {seed}: {time.perf_counter() - began:.0f} s, w " + ", ".join(f"{m} {w:.1f}" for m, w in weights.items())


def table(out: Path, seeds: list) -> str:
    from forecaster.evaluation.stats import diebold_mariano

    lines = ["| pair | model | CRPS bp | " + " | ".join(f"vs {r}: p better / p worse" for r in REFERENCES) + " |",
             "|---|---|---|" + "---|" * len(REFERENCES)]
    for index in range(4):
        pair = f"FACTOR{index + 1}"
        runs = [np.load(out / f"{s}_{pair}.npz") for s in seeds]
        crps = {m: np.concatenate([r[m] for r in runs]) for m in runs[0].files}  # (N,) per-origin CRPS, draws stacked
        for m in [n for name in MODELS for n in (name, f"{name}_raw")] + ["garch_t", "ewma"]:
            cells = []
            for ref in REFERENCES:
                if ref == m or m in ("garch_t", "ewma") or m.startswith(ref + "_raw"):
                    cells.append("")
                    continue
                better = diebold_mariano(crps[m], crps[ref], H)["dm_p"]
                worse = diebold_mariano(crps[ref], crps[m], H)["dm_p"]
                cells.append(f"{better:.3f} / {worse:.3f}")
            lines.append(f"| {pair} | {m} | {crps[m].mean() * 1e4:.3f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", nargs="*", type=int, default=[11, 12, 13, 14], help="design draws (the oracle table's are 0-2)")
    parser.add_argument("--days", type=int, default=9000)
    parser.add_argument("--test-years", type=float, default=9.0)
    parser.add_argument("--jobs", type=int, default=16)
    parser.add_argument("--out", default="cross_pair_variants")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    began = time.time()
    with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(task, s, i, args.days, args.test_years, str(out)) for s in args.seeds for i in range(4)]
        for f in as_completed(futures):
            print(f.result(), f"({time.time() - began:.0f} s)", flush=True)
    text = table(out, args.seeds)
    (out / "table.md").write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
