"""Would a degrees of freedom per step help the t forecasts of GARCH(1,1)-t / GJR-GARCH(1,1)-t? (issue 20,
direction 5: a fitted df.) Both issue every step h's cumulative return in a t of the one-step df; here
df_h is fitted by maximum likelihood to the training rows' h-step sums standardised by the model's own
h-step standard deviation (arch's filtered forecasts with the fitted parameters), and the test CRPS of
the t with df_h is compared with the one-step df's (DM on the per-origin mean over the H steps).

Design data only: simulated design draws (the oracle benchmark's markets; fitted once on the rows before
row 6,498 of 9,000) and the six ECB majors' validation window (fitted on the data up to 2020-10-26, the
window's first date, scored from the next day to 2023-10-25, no refit; figarch.py fits up to the day before).

    PYTHONPATH=. python benchmarks/step_df.py                  # about a minute on 2 cores
"""
import argparse

import numpy as np
from scipy import optimize, stats

from design_data import design_draws, majors_validation, train_rows
from forecaster.data import PriceSeries
from forecaster.data.history import History
from forecaster.evaluation.stats import diebold_mariano
from forecaster.model.anchored import targets
from forecaster.probabilistic.distributions import Predictive, t_scale
from forecaster.probabilistic.risk import GarchT

H = 5
WARM = 250  # first training rows left out of the df fit (the filter's start)


def unit_t_df(z: np.ndarray) -> float:
    """The df of the unit-variance t that maximises the likelihood of z."""
    def nll(d):
        c = np.sqrt((d - 2.0) / d)
        return -np.sum(stats.t.logpdf(z / c, d) - np.log(c))
    return float(optimize.minimize_scalar(nll, bounds=(2.2, 300.0), method="bounded").x)


def compare(series: PriceSeries, cut: int, asymmetric: bool) -> tuple[list, np.ndarray, np.ndarray]:
    """df per step, and the per-origin CRPS (mean over steps) with the one-step df and with df_h."""
    g = GarchT(H, asymmetric=asymmetric)
    g.fit(History(series, cut))
    r = np.diff(np.log(series.frame["close"].to_numpy()))
    per_step = g._spec(r * 100).fix(g.fitted).forecast(horizon=H, start=0, reindex=False).variance.to_numpy()
    sd = np.sqrt(np.cumsum(per_step, 1)) / 100  # (n, H) made at return index i for r_{i+1..i+h}
    y = targets(r, H)
    train, test = slice(WARM, cut - 1 - H), slice(cut - 1, len(r) - H)
    dfs = [g.df] + [unit_t_df((y / sd)[train, h]) for h in range(1, H)]
    one, each = (np.mean([Predictive(np.zeros(test.stop - test.start), t_scale(sd[test, h], d), d).crps(y[test, h]).ravel()
                          for h, d in enumerate(ds)], 0) for ds in ([g.df] * H, dfs))  # (N,) each
    return dfs, one, each


def line(name: str, dfs: list, one: np.ndarray, each: np.ndarray) -> str:
    better, worse = diebold_mariano(each, one, H)["dm_p"], diebold_mariano(one, each, H)["dm_p"]
    return (f"| {name} | {' / '.join(f'{d:.1f}' for d in dfs)} | {one.mean() * 1e4:.3f} -> {each.mean() * 1e4:.3f} | "
            f"{100 * (each.mean() / one.mean() - 1):+.3f}% | {better:.3f} / {worse:.3f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="*", default=[27, 28])
    a = ap.parse_args()
    print("| case | df per step | CRPS x 1e4, one df -> df per step | change | DM p better / p worse |\n|---|---|---|---|---|")
    for market, seed, series in design_draws(a.seeds):
        print(line(f"{market} draw {seed}, GARCH-t", *compare(series, train_rows(), False)), flush=True)
    for asymmetric in (False, True):
        parts = []
        for pair, series, first in majors_validation():
            dfs, one, each = compare(series, first, asymmetric)  # fitted through the window's first row
            parts.append((one, each))
            print(line(f"{pair} 2020-10..2023-10, {'GJR-t' if asymmetric else 'GARCH-t'}", dfs, one, each), flush=True)
        one, each = (np.concatenate(x) for x in zip(*parts))
        print(f"| six majors pooled, {'GJR-t' if asymmetric else 'GARCH-t'} | | {one.mean() * 1e4:.3f} -> {each.mean() * 1e4:.3f} | "
              f"{100 * (each.mean() / one.mean() - 1):+.3f}% | |")


if __name__ == "__main__":
    main()
