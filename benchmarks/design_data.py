"""The design data of issue 20's probes and sweeps (benchmarks/anchored_variants.py, figarch.py, step_df.py):
simulated design draws of the oracle benchmark's markets (and design markets of their own), and the six ECB
majors' validation window, the 3 years before the test years. Choices are made on these, never on the
oracle table's draws or the majors' last 3 years."""

import pandas as pd

from forecaster.configs import PAIR_SETS
from forecaster.data import PriceSeries, load_series
from forecaster.probabilistic import markets as mk

DAYS = 9000  # a simulated draw's length, as in the oracle benchmark
MARKETS = ("garch_t", "gjr_garch_t", "harch_t", "markov_switching")  # the oracle's single-pair markets with dynamics
TRAIN_SHARE = 0.722  # a draw is fitted once on its rows before int(TRAIN_SHARE x days): row 6,498 of 9,000
VALIDATION = ("2020-10-26", "2023-10-25")  # the majors' validation window: first and last date
DESIGN_MARKETS = {"gjr_strong": mk.GjrGarchMarket(alpha=0.02, gamma=0.10, beta=0.90, df=6.0, name="gjr_strong")}  # leverage


def simulated(market_name: str, seed: int, days: int = DAYS):
    """(market, path, series) of one draw of an oracle market or a design market."""
    market = {**mk.MARKETS, **DESIGN_MARKETS}[market_name]
    path = market.simulate(days, seed=seed)
    return market, path, PriceSeries(frame=mk.price_frame(path.returns), pair="SIMUSD", source="simulated")


def train_rows(days: int = DAYS) -> int:
    """The row a draw's fit stops before (its test starts there)."""
    return int(days * TRAIN_SHARE)


def design_draws(seeds, markets=MARKETS):
    """(market name, seed, series) of each draw, market by market."""
    for market in markets:
        for seed in seeds:
            yield market, seed, simulated(market, seed)[2]


def majors_validation():
    """(pair, series up to the window's last date, row of the window's first date) for each major."""
    for pair in PAIR_SETS["majors"]:
        series = load_series(pair, source="ecb", end=VALIDATION[1])
        yield pair, series, int(series.frame.index.searchsorted(pd.Timestamp(VALIDATION[0])))
