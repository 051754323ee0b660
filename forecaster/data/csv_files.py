"""A user's own price files.

Recognised layouts (columns matched case-insensitively):
  - a CSV written from a yfinance frame, including the three-line header
    `Price,Close,High,...` / `Ticker,EURUSD=X,...` / `Date,,,...`;
  - MetaTrader 4/5 history exports: `YYYY.MM.DD,HH:MM,open,high,low,close,volume`, no header;
  - generic files with a date (or datetime/time/timestamp) column and open/high/low/close
    (close alone, or a price/rate column, is enough).
A row whose date or price cannot be read is reported with the file name and line number.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from forecaster.errors import ForecasterError

DATE_NAMES = ("date", "datetime", "time", "timestamp", "gmt time", "local time")
CLOSE_NAMES = ("close", "price", "rate", "last")
MT_ROW = re.compile(r"^\d{4}\.\d{2}\.\d{2},\d{2}:\d{2}(:\d{2})?,")


def read_csv(path) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise ForecasterError(f"price file {path} does not exist")
    lines = path.read_text(encoding="utf-8-sig", errors="replace").splitlines()
    lines_nonblank = [line for line in lines if line.strip()]
    if not lines_nonblank:
        raise ForecasterError(f"price file {path} is empty")
    first = lines_nonblank[0]
    if MT_ROW.match(first):
        return _metatrader(path)
    if first.lower().startswith("price,") and len(lines) > 2 and lines[1].lower().startswith("ticker,"):
        return _table(path, pd.read_csv(path, header=0, skiprows=[1, 2], dtype=str), header_lines=3)
    return _table(path, pd.read_csv(path, dtype=str, sep=None, engine="python"), header_lines=1)


def _metatrader(path: Path) -> pd.DataFrame:
    raw = pd.read_csv(path, header=None, dtype=str)
    if raw.shape[1] < 6:
        raise ForecasterError(f"{path}: a MetaTrader export needs date,time,open,high,low,close[,volume] columns")
    stamps = raw[0].str.strip() + " " + raw[1].str.strip()
    frame = pd.DataFrame({"open": raw[2], "high": raw[3], "low": raw[4], "close": raw[5]})
    return _finish(path, frame, stamps, "%Y.%m.%d %H:%M", header_lines=0)


def _table(path: Path, raw: pd.DataFrame, header_lines: int) -> pd.DataFrame:
    columns = {str(c).strip().lower(): c for c in raw.columns}
    date_col = next((columns[n] for n in DATE_NAMES if n in columns), None)
    if date_col is None:
        first = raw.columns[0]
        if str(first).lower() in ("price", "unnamed: 0", ""):  # yfinance layouts put dates in the first column
            date_col = first
        else:
            raise ForecasterError(f"{path}: no date column found (looked for {', '.join(DATE_NAMES)})")
    close_col = next((columns[n] for n in CLOSE_NAMES if n in columns), None)
    if close_col is None:
        raise ForecasterError(f"{path}: no close column found (looked for {', '.join(CLOSE_NAMES)})")
    frame = pd.DataFrame({"close": raw[close_col]})
    for name in ("open", "high", "low"):
        if name in columns:
            frame[name] = raw[columns[name]]
    return _finish(path, frame[[c for c in ("open", "high", "low", "close") if c in frame]], raw[date_col],
                   None, header_lines)


def _finish(path: Path, frame: pd.DataFrame, stamps: pd.Series, fmt, header_lines: int) -> pd.DataFrame:
    stamps = stamps.astype(str).str.strip()
    dates = pd.to_datetime(stamps, format=fmt, errors="coerce") if fmt else _parse_dates(stamps)
    values = frame.apply(lambda col: pd.to_numeric(col.astype(str).str.strip(), errors="coerce"))
    bad_date = dates.isna().to_numpy()
    bad_close = ~np.isfinite(values["close"].to_numpy(dtype="float64"))
    bad = bad_date | bad_close
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        what = f"date {stamps.iloc[row]!r}" if bad_date[row] else f"close {frame['close'].iloc[row]!r}"
        raise ForecasterError(
            f"{path}, line {row + header_lines + 1}: cannot read the {what} ({int(bad.sum())} bad row(s) in all)"
        )
    index = pd.DatetimeIndex(dates)
    if index.tz is not None:
        index = index.tz_convert("UTC").tz_localize(None)
    values.index = index.as_unit("ns")
    values.index.name = "date"
    return values.astype("float64")


def _parse_dates(stamps: pd.Series) -> pd.Series:
    parsed = pd.to_datetime(stamps, errors="coerce", format="ISO8601", utc=True)
    if parsed.isna().any():
        parsed = pd.to_datetime(stamps, errors="coerce", format="mixed", utc=True)
    return parsed
