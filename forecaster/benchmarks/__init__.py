"""Benchmarks that run the product's own pipeline and walk-forward on published or simulated data.

    exchange.py  the Exchange-Rate long-horizon benchmark (Lai et al. 2018) under the validation gate
    oracle.py    the oracle benchmark: the walk-forward on simulated markets with known conditional
                 distributions, and the share of the historical-volatility-to-oracle CRPS gap each model closes

May import: every layer below the api (backtest, model, evaluation, probabilistic, data, ground).
"""
