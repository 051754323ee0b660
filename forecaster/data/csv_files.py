"""A user's own price files, as people really have them.

Recognised layouts (column names matched case-insensitively):
  - a CSV written from a yfinance frame, including the three-line header
    `Price,Close,High,...` / `Ticker,EURUSD=X,...` / `Date,,,...`;
  - MetaTrader 4/5 history exports: `YYYY.MM.DD,HH:MM,open,high,low,close,volume`, no header;
  - OHLC tables: a date (datetime, time, timestamp...) column and open/high/low/close
    (close alone, or a price/rate/value column, is enough);
  - FRED downloads: `observation_date,DEXUSEU` (or `DATE,...`), holidays left blank or written `.`;
  - long tables: one row per date and series (`date,currency,rate`): `series` picks the rows;
  - wide tables: one column per currency or pair (`date,USD,JPY,...`): `column` picks one.
A price column is a price: a column named as a volume, a count or open interest never is (an error
names the columns found and what is accepted), and one whose median move from row to row exceeds
MAX_MEDIAN_MOVE is refused.
Blank and non-numeric prices become NaN here: cleaning drops and counts them, the report names the
first few by line and text (strict cleaning turns them into an error naming the first line). A date
that cannot be read is an error naming the file and the line.

The file can also say which pair it holds (a ticker row `USDJPY=X`, a FRED code such as DEXJPUS,
a column or series named EURUSD, a file name such as USDJPY=X.csv or eurusd_daily.csv): `label`
returns it so that the caller can check it against the pair asked for.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd

from forecaster.data.series import CURRENCIES
from forecaster.errors import ForecasterError

DATE_NAMES = ("date", "datetime", "time", "timestamp", "observation_date", "gmt time", "local time", "time_period",
              "period", "day")
CLOSE_NAMES = ("close", "adj close", "adj_close", "price", "rate", "last", "value", "obs_value")
# columns that are never a price, however numeric: volumes, counts of ticks or trades, open interest, spreads
NOT_PRICE_NAMES = ("volume", "vol", "tick_volume", "tickvol", "tick volume", "real_volume", "volume_usd", "count",
                   "ticks", "trades", "number of trades", "open_interest", "open interest", "oi", "openinterest",
                   "spread", "turnover", "amount", "quantity")
# a price column whose median bar-to-bar move (absolute log change) is larger than this is not an FX rate
# (a day's move is a fraction of a percent; volumes and counts jump by tens of percent)
MAX_MEDIAN_MOVE = 0.05
KEY_NAMES = ("currency", "country", "symbol", "ticker", "pair", "series", "series_id", "code", "name", "instrument")
MT_ROW = re.compile(r"^\d{4}\.\d{2}\.\d{2},\d{2}:\d{2}(:\d{2})?,")
MISSING = ("", ".", "nan", "na", "n/a", "nd", "null", "none", "-", "#n/a")

# FRED H.10 series DEX<A><B>: units of A's currency per unit of B's (DEXUSEU: USD per EUR = EURUSD).
FRED_COUNTRIES = {
    "US": "USD", "EU": "EUR", "UK": "GBP", "JP": "JPY", "CA": "CAD", "SZ": "CHF", "AL": "AUD", "NZ": "NZD",
    "CH": "CNY", "SD": "SEK", "DN": "DKK", "NO": "NOK", "MX": "MXN", "IN": "INR", "KO": "KRW", "BZ": "BRL",
    "SF": "ZAR", "SI": "SGD", "HK": "HKD", "TA": "TWD", "TH": "THB", "MA": "MYR", "SL": "LKR", "VZ": "VEF",
}


@dataclass
class CsvData:
    """A file read: the price frame (NaN where a price could not be read), the pair the file names
    (or None) and where that name was found, and the unreadable prices with their line numbers."""

    frame: pd.DataFrame
    label: Optional[str] = None
    label_origin: str = ""
    bad_values: list = field(default_factory=list)  # [(line, text)] closes that were blank or not numbers


def pair_label(text) -> Optional[str]:
    """'EURUSD', 'EUR/USD', 'eur_usd', 'USDJPY=X' or a FRED code 'DEXUSEU' -> the pair it names, else None."""
    text = str(text).strip().upper()
    fred = re.fullmatch(r"DEX([A-Z]{2})([A-Z]{2})", text)
    if fred and fred.group(1) in FRED_COUNTRIES and fred.group(2) in FRED_COUNTRIES:
        return FRED_COUNTRIES[fred.group(2)] + FRED_COUNTRIES[fred.group(1)]
    match = re.fullmatch(r"([A-Z]{3})[\s/_\-.]?([A-Z]{3})(=X)?", text)
    if match and {match.group(1), match.group(2)} <= CURRENCIES and match.group(1) != match.group(2):
        return match.group(1) + match.group(2)
    return None


def file_name_label(path) -> Optional[str]:
    """The pair a file name spells out (USDJPY=X.csv, EURUSD60.csv, eur_usd-daily.csv), or None."""
    stem = Path(path).stem.upper()
    for match in re.finditer(r"(?<![A-Z])([A-Z]{3})[\s_\-]?([A-Z]{3})(?![A-Z])", stem):
        label = pair_label(match.group(1) + match.group(2))
        if label:
            return label
    return None


def _text(path: Path) -> str:
    if path.is_dir():
        raise ForecasterError(f"{path} is a folder, not a price file: pass the CSV file inside it")
    if not path.is_file():
        raise ForecasterError(f"price file {path} does not exist")
    raw = path.read_bytes()
    if b"\x00" in raw[:4096]:
        raise ForecasterError(f"{path} is not a text file (it holds binary data): pass a CSV file")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ForecasterError(f"{path} is neither UTF-8 nor Windows-1252 text: save it as UTF-8 CSV")


def _read(path: Path, text: str, **kwargs) -> pd.DataFrame:
    try:
        return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, **kwargs)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise ForecasterError(f"{path} cannot be read as a CSV table ({str(exc).strip().splitlines()[0]})") from exc


def read_csv(path, column: Optional[str] = None, series: Optional[str] = None, pair: Optional[str] = None) -> CsvData:
    """Read a price file. column: the price column of a wide or long table; series: the rows of a long
    table (a currency or pair); pair: the pair asked for, used to pick a column or series when the file
    names one that way."""
    path = Path(path)
    text = _text(path)
    lines = text.splitlines()
    nonblank = [line for line in lines if line.strip()]
    if not nonblank:
        raise ForecasterError(f"price file {path} is empty")
    first = nonblank[0]
    if MT_ROW.match(first):
        data = _metatrader(path, text)
    elif first.lower().startswith("price,") and len(lines) > 2 and lines[1].lower().startswith("ticker,"):
        data = _yfinance(path, text, lines[1], column, pair)
    else:
        data = _table(path, _read(path, text, sep=None, engine="python"), 1, column, series, pair)
    if data.label is None:
        data.label = file_name_label(path)
        data.label_origin = f"its file name {path.name}" if data.label else ""
    return data


def _metatrader(path: Path, text: str) -> CsvData:
    raw = _read(path, text, header=None)
    if raw.shape[1] < 6:
        raise ForecasterError(f"{path}: a MetaTrader export needs date,time,open,high,low,close[,volume] columns")
    stamps = raw[0].str.strip() + " " + raw[1].str.strip()
    frame = pd.DataFrame({"open": raw[2], "high": raw[3], "low": raw[4], "close": raw[5]})
    return _finish(path, frame, stamps, "%Y.%m.%d %H:%M", header_lines=0)


def _yfinance(path: Path, text: str, ticker_line: str, column: Optional[str], pair: Optional[str]) -> CsvData:
    """The three-line header: price names on line 1, tickers on line 2, 'Date' on line 3."""
    raw = _read(path, text, header=None, skiprows=3)
    names = [c.strip() for c in text.splitlines()[0].split(",")]
    tickers = [t.strip() for t in ticker_line.split(",")]
    distinct = sorted({t for t in tickers[1:] if t})
    wanted = column or next((t for t in distinct if pair and pair_label(t) == pair_label(pair)), None)
    if len(distinct) > 1 and wanted is None:
        raise ForecasterError(f"{path} holds several tickers ({', '.join(distinct)}): pick one with --column")
    ticker = wanted or (distinct[0] if distinct else "")
    if distinct and ticker not in distinct:
        raise ForecasterError(f"{path} has no ticker {ticker!r}: accepted {', '.join(distinct)}")
    frame = pd.DataFrame()
    for i, (name, tick) in enumerate(zip(names, tickers)):
        key = name.lower().replace(" ", "_")
        if i and tick == ticker and key in ("open", "high", "low", "close") and i < raw.shape[1]:
            frame[key] = raw[i]
    if "close" not in frame:
        raise ForecasterError(f"{path}: the yfinance header has no Close column for {ticker or 'its ticker'}")
    data = _finish(path, frame[[c for c in ("open", "high", "low", "close") if c in frame]], raw[0], None, 3)
    data.label = pair_label(ticker)
    data.label_origin = f"its ticker row {ticker}" if data.label else ""
    return data


def _numeric_share(col: pd.Series) -> float:
    values = col.astype(str).str.strip()
    present = values[~values.str.lower().isin(MISSING)]
    if present.empty:
        return 0.0
    return float(pd.to_numeric(present.str.replace(",", "", regex=False), errors="coerce").notna().mean())


def _table(path: Path, raw: pd.DataFrame, header_lines: int, column: Optional[str], series: Optional[str],
           pair: Optional[str]) -> CsvData:
    columns = {str(c).strip().lower(): c for c in raw.columns}
    date_col = next((columns[n] for n in DATE_NAMES if n in columns), None)
    if date_col is None:
        first = raw.columns[0]
        if str(first).strip().lower() in ("price", "unnamed: 0", "") or _dates_share(raw[first]) > 0.9:
            date_col = first  # yfinance layouts and unnamed index columns put the dates first
        else:
            raise ForecasterError(f"{path}: no date column found (looked for {', '.join(DATE_NAMES)}, "
                                  f"and the first column {first!r} does not hold dates)")
    others = [c for c in raw.columns if c != date_col]
    numeric = [c for c in others if _numeric_share(raw[c]) >= 0.5]
    keys = [c for c in others if c not in numeric and raw[c].astype(str).str.strip().ne("").any()]
    not_prices = [c for c in numeric if _not_price(c)]
    numeric = [c for c in numeric if c not in not_prices]
    label, origin = None, ""
    repeated_dates = raw[date_col].astype(str).str.strip().duplicated().any()
    if keys and (series is not None or repeated_dates):  # a long table: one row per date and series
        raw, label, origin = _pick_series(path, raw, keys, series, pair)
    elif series is not None:
        raise ForecasterError(f"{path} is not a long table (no currency or series column among "
                              f"{', '.join(map(str, others))}): --series applies to long tables only")
    if column is not None:
        match = columns.get(column.strip().lower())
        if match is None or match == date_col:
            raise ForecasterError(f"{path} has no column {column!r}: accepted {', '.join(map(str, numeric or others))}")
        if match in not_prices:
            raise ForecasterError(f"{path}: column {match!r} is a {_not_price(match)}, not a price: accepted "
                                  f"{', '.join(map(str, numeric)) or 'none (the file has no price column)'}")
        close_col = match
    else:
        close_col = next((columns[n] for n in CLOSE_NAMES if n in columns), None)
        if close_col is None:
            close_col = _pick_value_column(path, numeric, pair, raw.columns, not_prices)
    if label is None:
        label = pair_label(close_col)
        origin = f"its column {close_col}" if label else ""
    frame = pd.DataFrame({"close": raw[close_col]})
    if column is None:
        for name in ("open", "high", "low"):
            if name in columns:
                frame[name] = raw[columns[name]]
    data = _finish(path, frame[[c for c in ("open", "high", "low", "close") if c in frame]], raw[date_col], None,
                   header_lines)
    _check_plausible(path, data.frame["close"], close_col, pair)
    data.label, data.label_origin = label, origin
    return data


def _dates_share(col: pd.Series) -> float:
    values = col.astype(str).str.strip().head(50)
    return float(pd.to_datetime(values, errors="coerce", format="mixed").notna().mean()) if len(values) else 0.0


def _pick_series(path: Path, raw: pd.DataFrame, keys: list, series: Optional[str], pair: Optional[str]):
    """A long table: the rows of one series. Returns (rows, label, where the label came from)."""
    key = next((k for k in keys if str(k).strip().lower() in KEY_NAMES), keys[0])
    values = raw[key].astype(str).str.strip()
    found = sorted(values[values != ""].unique())
    if series is None:
        matches = [v for v in found if pair and pair_label(v) and pair_label(v) == pair_label(pair)]
        if len(found) == 1:
            series = found[0]
        elif len(matches) == 1:
            series = matches[0]
        else:
            shown = ", ".join(found[:12]) + (" ..." if len(found) > 12 else "")
            raise ForecasterError(f"{path} is a long table with {len(found)} series in column {key!r} "
                                  f"({shown}): pick one with --series")
    chosen = values.str.upper() == series.strip().upper()
    if not chosen.any():
        shown = ", ".join(found[:12]) + (" ..." if len(found) > 12 else "")
        raise ForecasterError(f"{path} has no series {series!r} in column {key!r}: accepted {shown}")
    label = pair_label(series)
    return raw[chosen], label, (f"its series {series}" if label else "")


def _not_price(name) -> str:
    """'volume', 'count', 'open interest'... when a column's name says it is not a price, else ''."""
    key = str(name).strip().lower()
    if key in NOT_PRICE_NAMES:
        return "volume" if "vol" in key else "open interest" if "interest" in key or key == "oi" else key
    return ""


def _pick_value_column(path: Path, numeric: list, pair: Optional[str], found, not_prices: list):
    if len(numeric) == 1:
        return numeric[0]
    matches = [c for c in numeric if pair and pair_label(c) and pair_label(c) == pair_label(pair)]
    if len(matches) == 1:
        return matches[0]
    if not numeric:
        skipped = "".join(f"; {c} is a {_not_price(c)}, never a price" for c in not_prices)
        raise ForecasterError(f"{path}: no price column among the columns {', '.join(map(str, found))}{skipped}; "
                              f"accepted a column named {', '.join(CLOSE_NAMES)}, a ticker or pair (EURUSD), "
                              "or the only column of numbers")
    raise ForecasterError(f"{path} is a wide table with {len(numeric)} price columns "
                          f"({', '.join(map(str, numeric[:12]))}{' ...' if len(numeric) > 12 else ''}): "
                          "pick one with --column")


def _check_plausible(path: Path, close: pd.Series, name, pair: Optional[str]) -> None:
    """A price column must hold prices: in date order they move by fractions of a percent a bar, not
    by tens of percent as volumes and counts do. close: the column as read, indexed by date."""
    values = close.sort_index(kind="stable").to_numpy(dtype="float64")
    values = values[np.isfinite(values) & (values > 0)]
    if len(values) < 3:
        return  # too few prices to judge: cleaning counts and reports what is wrong with them
    move = float(np.median(np.abs(np.diff(np.log(values)))))
    if move > MAX_MEDIAN_MOVE:
        raise ForecasterError(f"{path}: column {name!r} does not look like {pair or 'an exchange rate'}'s price: its "
                              f"median move from one row to the next is {move:.0%} (an exchange rate moves by a fraction "
                              f"of a percent a bar, volumes and counts jump); pick the price column with --column")


def _finish(path: Path, frame: pd.DataFrame, stamps: pd.Series, fmt, header_lines: int) -> CsvData:
    lines = np.asarray(stamps.index, dtype=np.int64) + header_lines + 1  # the file's line of each row
    stamps = stamps.astype(str).str.strip()
    dates = pd.to_datetime(stamps, format=fmt, errors="coerce") if fmt else _parse_dates(stamps)
    text = frame.apply(lambda col: col.astype(str).str.strip())
    values = text.apply(lambda col: pd.to_numeric(col.str.replace(",", "", regex=False).where(
        ~col.str.lower().isin(MISSING)), errors="coerce"))
    bad_date = dates.isna().to_numpy()
    if bad_date.any():
        row = int(np.flatnonzero(bad_date)[0])
        raise ForecasterError(f"{path}, line {lines[row]}: cannot read the date {stamps.iloc[row]!r} "
                              f"({int(bad_date.sum())} unreadable date(s) in all)")
    bad_close = ~np.isfinite(values["close"].to_numpy(dtype="float64"))
    bad = [(int(lines[i]), text["close"].iloc[i]) for i in np.flatnonzero(bad_close)]
    index = pd.DatetimeIndex(dates)
    if index.tz is not None:
        index = index.tz_convert("UTC").tz_localize(None)
    values.index = index.as_unit("ns")
    values.index.name = "date"
    return CsvData(frame=values.astype("float64"), bad_values=bad)


def _parse_dates(stamps: pd.Series) -> pd.Series:
    parsed = pd.to_datetime(stamps, errors="coerce", format="ISO8601", utc=True)
    if parsed.isna().any():
        parsed = pd.to_datetime(stamps, errors="coerce", format="mixed", utc=True)
    return parsed
