"""FIGARCH(1,d,1)-t (arch; Baillie, Bollerslev and Mikkelsen 1996: long memory in the variance) beside
GARCH(1,1)-t and GJR-GARCH(1,1)-t, as a candidate member of the combination (issue 20: the long-memory
goal). Each fitted once on the training rows and scored by CRPS (t of the fitted df, every step's
cumulative return; DM on the per-origin mean over the H steps against GARCH-t).

Design data only: simulated design draws (fitted on the rows before row 6,498 of 9,000) and the six ECB
majors' validation window (fitted on the data before 2020-10-26, scored on 2020-10-26..2023-10-25).

    PYTHONPATH=. python benchmarks/figarch.py                  # about a minute on 2 cores
"""
import argparse

import numpy as np

from design_data import design_draws, majors_validation, train_rows
from forecaster.data import PriceSeries
from forecaster.data.history import History
from forecaster.evaluation.stats import diebold_mariano
from forecaster.model.anchored import targets
from forecaster.probabilistic.risk import GarchT

H = 5
MODELS = ("garch_t", "gjr_t", "figarch_t")


def crps(series: PriceSeries, cut: int, name: str) -> np.ndarray:
    """(N,) per-origin CRPS (mean over steps) of the risk model `name` (GarchT.named) fitted on rows 0..cut (its
    first `cut` returns), at every origin row from `cut` on whose targets lie inside the series."""
    model = GarchT.named(H, name)
    model.fit(History(series, cut))
    r = np.diff(np.log(series.frame["close"].to_numpy()))
    origins = np.arange(cut, len(r) - H + 1)  # origin rows; row t has seen returns r_0..r_{t-1}
    return model.distribution([History(series, int(t)) for t in origins]).crps(targets(r, H)[origins - 1]).mean(1)


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
    for market, seed, series in design_draws(a.seeds):
        print(row(f"{market} draw {seed}", {m: crps(series, train_rows(), m) for m in MODELS}), flush=True)
    pooled = {m: [] for m in MODELS}
    for pair, series, first in majors_validation():
        scores = {m: crps(series, first - 1, m) for m in MODELS}  # fitted up to the last row before the window
        for m in MODELS:
            pooled[m].append(scores[m])
        print(row(f"{pair} 2020-10..2023-10", scores), flush=True)
    print(row("six majors pooled (DM on the stacked origins)", {m: np.concatenate(v) for m, v in pooled.items()}))


if __name__ == "__main__":
    main()
