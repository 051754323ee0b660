"""How long the Monte Carlo oracle takes, and how precise it is, at the oracle benchmark's size.

Per market at its defaults: 9,000 simulated days (seed 0), the last N origins, steps 1..H; the oracle's
CRPS by forecaster.probabilistic.oracle.oracle_scores with M paths per origin, its wall time, and the
largest Monte Carlo standard error over steps 2..H as a share of the hist_vol-to-oracle CRPS gap
(the target is < 0.1; the multi-pair market: its first pair). A timing note, not a timed test:

    PYTHONPATH=. python benchmarks/oracle_mc_timing.py [--origins 2300] [--horizon 5] [--paths 1000 2000]
"""

from __future__ import annotations

import argparse

import numpy as np

from forecaster.backtest import History
from forecaster.probabilistic.risk import HistoricalVol
from forecaster.data import PriceSeries
from forecaster.probabilistic import markets as mk
from forecaster.probabilistic.oracle import oracle_scores

DAYS = 9000


def _histvol_crps(returns: np.ndarray, targets: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    series = PriceSeries(frame=mk.price_frame(returns), pair="EURUSD", source="simulated")
    model = HistoricalVol(horizon)
    model.fit(History(series, int(origins[0]) - 1))
    return model.distribution([History(series, int(t)) for t in origins]).crps(targets)  # (N, H)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--origins", type=int, default=2300)
    parser.add_argument("--horizon", type=int, default=5)
    parser.add_argument("--paths", type=int, nargs="+", default=[1000, 2000])
    args = parser.parse_args()
    h, n = args.horizon, args.origins
    origins = np.arange(DAYS - h - n + 1, DAYS - h + 1)  # (N,) the last origins with an H-step target
    print("| market | M paths | seconds | max MC se / gap | gap / oracle CRPS, step H |\n|---|---|---|---|---|")
    for name, market in mk.MARKETS.items():
        path = market.simulate(DAYS, seed=0)
        first = (lambda a: a) if path.returns.ndim == 1 else (lambda a: a[..., 0])  # the first pair
        hv = _histvol_crps(first(path.returns), first(path.targets(origins, h)), origins, h)
        for m in args.paths:
            o = oracle_scores(market, path, origins, h, n_paths=m)
            crps, se = first(o.crps).mean(0), first(o.se)  # (H,) each
            gap = hv.mean(0) - crps
            worst = np.max(se[1:] / np.abs(gap[1:]))
            print(f"| {name} | {m} | {o.seconds:.1f} | {worst:.3f} | {gap[-1] / crps[-1]:+.4f} |", flush=True)


if __name__ == "__main__":
    main()
