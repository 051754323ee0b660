"""yfinance (1.x) as a source, behind our on-disk cache.

What yfinance really returns (../shared/notes/yfinance.md): two-level columns (Price, Ticker)
even for one ticker; no Adj Close with auto_adjust (the default); a naive daily index but a
tz-aware intraday one; Volume always 0 for FX; and on a rate limit, a bad ticker or an empty
range, a 0-row frame instead of an exception. Intraday history is limited (1h: 730 days;
2m-90m: 60 days; 1m: the last 30 days): asking beyond is an error here, not an empty result.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import pandas as pd

from forecaster.data import cache
from forecaster.errors import ForecasterError

INTERVALS = ("1m", "2m", "5m", "15m", "30m", "60m", "90m", "1h", "1d", "5d", "1wk", "1mo", "3mo")
REACH_DAYS = {"1m": 30, "2m": 60, "5m": 60, "15m": 60, "30m": 60, "60m": 730, "90m": 60, "1h": 730}
REQUEST_DAYS = {"1m": 7}  # the most one request may span; longer ranges are fetched in pieces


def ticker_for(base: str, quote: str) -> str:
    return f"{base}{quote}=X"


def _download(ticker: str, interval: str, start: Optional[pd.Timestamp], end: Optional[pd.Timestamp]) -> pd.DataFrame:
    """The network call (replaced by a test double in tests)."""
    import yfinance

    return yfinance.download(
        ticker, interval=interval, start=None if start is None else start.strftime("%Y-%m-%d"),
        end=None if end is None else end.strftime("%Y-%m-%d"), auto_adjust=True, progress=False,
        period="max" if start is None else None,
    )


def normalise(raw: pd.DataFrame, ticker: str) -> pd.DataFrame:
    """yfinance's frame -> ours: lower-case open/high/low/close, naive UTC 'date' index."""
    frame = raw.copy()
    if isinstance(frame.columns, pd.MultiIndex):
        names = list(frame.columns.names)
        level = names.index("Ticker") if "Ticker" in names else 1
        tickers = frame.columns.get_level_values(level).unique()
        if ticker in tickers:
            frame = frame.xs(ticker, axis=1, level=level)
        elif len(tickers) == 1:
            frame = frame.droplevel(level, axis=1)
        else:
            raise ForecasterError(f"yfinance returned tickers {list(tickers)}, not {ticker}")
    frame.columns = [str(c).strip().lower().replace(" ", "_") for c in frame.columns]
    if "close" not in frame.columns and "adj_close" in frame.columns:
        frame = frame.rename(columns={"adj_close": "close"})
    keep = [c for c in ("open", "high", "low", "close") if c in frame.columns]
    if "close" not in keep:
        raise ForecasterError(f"yfinance returned no Close column for {ticker} (columns: {list(raw.columns)})")
    frame = frame[keep].astype("float64")
    index = pd.DatetimeIndex(frame.index)
    if index.tz is not None:
        index = index.tz_convert("UTC").tz_localize(None)
    frame.index = index.as_unit("ns")
    frame.index.name = "date"
    return frame.dropna(how="all")


def _check_reach(interval: str, start: Optional[pd.Timestamp], now: pd.Timestamp) -> None:
    if interval not in INTERVALS:
        raise ForecasterError(f"interval {interval!r} is not offered by Yahoo: accepted {', '.join(INTERVALS)}")
    reach = REACH_DAYS.get(interval)
    if reach is None:
        return
    if start is None:
        raise ForecasterError(f"interval {interval} needs --start within the last {reach} days (Yahoo keeps no more)")
    if (now - start).days > reach:
        raise ForecasterError(
            f"interval {interval} reaches back only {reach} days on Yahoo; --start {start.date()} is earlier "
            f"than {(now - pd.Timedelta(days=reach)).date()}"
        )


def fetch(base: str, quote: str, interval: str = "1d", start=None, end=None, cache_dir=None,
          offline: bool = False) -> tuple[pd.DataFrame, str]:
    """Cached bars for the pair, refreshed from Yahoo unless offline. Returns (frame, description)."""
    ticker = ticker_for(base, quote)
    start = None if start is None else pd.Timestamp(start)
    end = None if end is None else pd.Timestamp(end)
    path = cache.cache_path(Path(cache_dir) if cache_dir else cache.default_cache_dir(), "yahoo", ticker, interval)
    cached = cache.read(path)
    note = f"Yahoo Finance {ticker} {interval} via yfinance, cached at {path}"
    if offline:
        if cached is None or cached.empty:
            raise ForecasterError(f"--offline: nothing cached for {ticker} {interval} at {path}; fetch it once online")
        return _window(cached, start, end), note + " (offline: cache only)"
    _check_reach(interval, start, pd.Timestamp.now())
    # Incremental: from the last cached bar (re-fetched: it may have been provisional).
    fetch_from = start
    if cached is not None and not cached.empty and (start is None or start >= cached.index[0]):
        fetch_from = cached.index[-1].normalize()
    try:
        pieces = [_download(ticker, interval, a, b) for a, b in _request_ranges(interval, fetch_from, end)]
        pieces = [normalise(raw, ticker) for raw in pieces if raw is not None and len(raw)]
        new = cache.merge(None, pd.concat(pieces)) if pieces else pd.DataFrame()
        problem = None if len(new) else "the download returned no rows (rate limit, unknown ticker or empty range)"
    except ForecasterError:
        raise
    except Exception as exc:  # network failures, yfinance errors
        new, problem = pd.DataFrame(), f"the download failed: {exc}"
    if problem:
        if cached is None or cached.empty:
            raise ForecasterError(f"Yahoo {ticker} {interval}: {problem}; nothing cached to fall back on")
        return _window(cached, start, end), note + f" (refresh failed: {problem}; cached data served)"
    merged = cache.update(path, new)
    return _window(merged, start, end), note


def _request_ranges(interval: str, start, end) -> list:
    """[(start, end)] as one request, or consecutive pieces where Yahoo limits a request's span."""
    span = REQUEST_DAYS.get(interval)
    if span is None or start is None:
        return [(start, end)]
    end = end or pd.Timestamp.now().normalize() + pd.Timedelta(days=1)
    bounds = list(pd.date_range(start, end, freq=f"{span}D")) + [end]
    return [(a, b) for a, b in zip(bounds[:-1], bounds[1:]) if a < b]


def _window(frame: pd.DataFrame, start, end) -> pd.DataFrame:
    if start is not None:
        frame = frame[frame.index >= pd.Timestamp(start)]
    if end is not None:
        frame = frame[frame.index <= pd.Timestamp(end)]
    return frame
