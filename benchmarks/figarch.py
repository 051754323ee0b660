"""FIGARCH(1,d,1)-t (arch; Baillie, Bollerslev and Mikkelsen 1996: long memory in the variance) beside
GARCH(1,1)-t and GJR-GARCH(1,1)-t, as a candidate member of the combination (issue 20: the long-memory
goal). Each fitted once on the training rows and scored by CRPS (t of the fitted df, every step's
cumulative return; DM on the per-origin mean over the H steps against GARCH-t).

Design data only: simulated design draws (fitted on the rows before row 6,498 of 9,000) and the six ECB
majors' validation window (fitted on the data before 2020-10-26, scored on 2020-10-26..2023-10-25).

    PYTHONPATH=. python benchmarks/figarch.py                  # about a minute on 2 cores
"""
import argparse
import warnings

import numpy as np
import pandas as pd
from arch import arch_model

from forecaster.configs import PAIR_SETS
from forecaster.data import load_series
from forecaster.evaluation.stats import diebold_mariano
from forecaster.model.anchored import targets
from forecaster.probabilistic import markets as mk
from forecaster.probabilistic.distributions import Predictive, t_scale

H = 5
SPECS = {"garch_t": dict(vol="GARCH", p=1, q=1), "gjr_t": dict(vol="GARCH", p=1, o=1, q=1),
         "figarch_t": dict(vol="FIGARCH", p=1, q=1)}


def crps(r: np.ndarray, cut: int, spec: dict) -> np.ndarray:
    """(N,) per-origin CRPS (mean over steps) of the model fitted on returns r[:cut] (log returns), for the
    origins from return index cut - 1 on whose targets lie inside r."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = arch_model(r[:cut] * 100, mean="Zero", dist="t", rescale=False, **spec).fit(disp="off")
        model = arch_model(r * 100, mean="Zero", dist="t", rescale=False, **spec).fix(fit.params)
        var = model.forecast(horizon=H, start=cut - 1, reindex=False).variance.to_numpy()  # (n - cut + 1, H)
    y = targets(r, H)[cut - 1 : len(r) - H]  # (N, H)
    sd = np.sqrt(np.cumsum(var, 1))[: len(y)] / 100
    nu = float(fit.params.iloc[-1])
    return Predictive(np.zeros_like(sd), t_scale(sd, nu), nu).crps(y).mean(1)


def row(name: str, scores: dict) -> str:
    ref = scores["garch_t"]
    cells = []
    for m in ("gjr_t", "figarch_t"):
        dm = diebold_mariano(scores[m], ref, H)
        cells.append(f"{100 * (scores[m].mean() / ref.mean() - 1):+.3f}% ({dm['dm_p']:.3f} / {dm['dm_p_worse']:.3f})")
    return f"| {name} | " + " | ".join(cells) + " |"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="*", default=[31, 32])
    a = ap.parse_args()
    print("| case | GJR-t vs GARCH-t (DM p better / p worse) | FIGARCH-t vs GARCH-t |\n|---|---|---|")
    for market in ("garch_t", "gjr_garch_t", "harch_t", "markov_switching"):
        for seed in a.seeds:
            r = mk.MARKETS[market].simulate(9000, seed=seed).returns
            print(row(f"{market} draw {seed}", {m: crps(r, 6498, s) for m, s in SPECS.items()}), flush=True)
    pooled = {m: [] for m in SPECS}
    for pair in PAIR_SETS["majors"]:
        series = load_series(pair, source="ecb", end="2023-10-25")
        r = np.diff(np.log(series.frame["close"].to_numpy()))
        cut = int(series.frame.index.searchsorted(pd.Timestamp("2020-10-26"))) - 1  # returns before the window
        scores = {m: crps(r, cut, s) for m, s in SPECS.items()}
        for m in SPECS:
            pooled[m].append(scores[m])
        print(row(f"{pair} 2020-10..2023-10", scores), flush=True)
    print(row("six majors pooled (DM on the stacked origins)", {m: np.concatenate(v) for m, v in pooled.items()}))


if __name__ == "__main__":
    main()
