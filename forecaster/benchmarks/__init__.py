"""Benchmarks that run the product's own pipeline and walk-forward on published or simulated data.

    exchange.py  the Exchange-Rate long-horizon benchmark (Lai et al. 2018) under the validation gate

May import: every layer below the api (backtest, model, evaluation, probabilistic, data, ground).
"""
