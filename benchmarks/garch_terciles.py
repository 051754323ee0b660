"""GARCH(1,1)-t's step-1 calibration by volatility tercile on the six ECB majors, over a chosen window
(issue 20's calibration goal): is the over-reaction seen in the last 3 years a stable property of FX that
a model could learn from the past, or one of that period? GARCH-t is fitted once on the rows before the
window; per tercile of the volatility known at each origin (the backtest's: trailing 20-day RMS), pooled
over the pairs: the mean of z^2 = r^2 / predicted variance (1 if the scale is right), the 80% coverage,
and the share of |z| > 2.5.

    python benchmarks/garch_terciles.py                       # the last 3 years (the majors benchmark's test)
    python benchmarks/garch_terciles.py --years 8 --skip 3    # the 8 years before those
"""

from __future__ import annotations

import argparse

import numpy as np

from forecaster.configs import PAIR_SETS
from forecaster.data import cumulative_returns, load_series
from forecaster.data.calendar import bars_per_year
from forecaster.data.history import History
from forecaster.evaluation.scores import TERCILES, tercile_of, trailing_volatility
from forecaster.probabilistic.intervals import inside
from forecaster.probabilistic.risk import GarchT


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--years", type=float, default=3.0, help="length of the window scored")
    parser.add_argument("--skip", type=float, default=0.0, help="years between the window's end and the data's end")
    args = parser.parse_args()
    cells = {t: [] for t in range(len(TERCILES))}  # tercile -> per pair (E z^2, coverage 80, P |z| > 2.5)
    for pair in PAIR_SETS["majors"]:
        series = load_series(pair, source="ecb", offline=True)
        log_close = np.log(series.frame["close"].to_numpy())
        per_year = bars_per_year(series.frame.index)
        stop = len(log_close) - 1 - int(round(args.skip * per_year))
        start = stop - int(round(args.years * per_year))
        garch = GarchT(1)
        garch.fit(History(series, start - 1))
        origins = np.arange(start, stop)
        dist = garch.distribution([History(series, int(t)) for t in origins])
        r = cumulative_returns(log_close, origins, 1)[:, 0]  # (N,) the step-1 return
        z = r / dist.std()[:, 0]
        lo, hi = dist.interval(0.8)
        covered = inside(r, lo[:, 0], hi[:, 0])
        tercile = tercile_of(trailing_volatility(log_close, origins))
        for t in cells:
            m = tercile == t
            cells[t].append((np.mean(z[m] ** 2), covered[m].mean(), np.mean(np.abs(z[m]) > 2.5)))
        first, last = series.frame.index[start].date(), series.frame.index[stop - 1].date()
    print(f"GARCH(1,1)-t, step 1, origins {first}..{last} (the last pair's dates), pooled over "
          f"{', '.join(PAIR_SETS['majors'])} (mean of the pairs)")
    print("| tercile | E[z^2] per pair | mean | 80% coverage | P(abs z > 2.5) |\n|---|---|---|---|---|")
    for t, name in enumerate(TERCILES):
        a = np.array(cells[t])
        print(f"| {name} | {' / '.join(f'{v:.2f}' for v in a[:, 0])} | {a[:, 0].mean():.3f} | {a[:, 1].mean():.3f} | "
              f"{a[:, 2].mean():.4f} |")


if __name__ == "__main__":
    main()
