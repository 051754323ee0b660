"""One entry point for every source: `load_series(pair, source=...)` -> a cleaned PriceSeries.

    ecb    default: the ECB's daily reference rates, refreshed into the cache when online, else the bundled copy
    yahoo  yfinance, behind an on-disk cache (incremental refresh; --offline serves the cache)
    csv    a user's file (yfinance CSV, MetaTrader export, OHLC table, FRED download, long or wide table)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pandas as pd

from forecaster.data import csv_files, ecb, yahoo
from forecaster.data.clean import UNREADABLE_SHOWN, clean
from forecaster.data.series import PriceSeries, parse_pair
from forecaster.errors import ForecasterError

SOURCES = ("ecb", "yahoo", "csv")
MIN_ROWS = 30


def load_series(
    pair: str, source: str = "ecb", interval: str = "1d", start=None, end=None, path: Optional[str] = None,
    cache_dir=None, offline: bool = False, strict: bool = False, column: Optional[str] = None,
    series: Optional[str] = None,
) -> PriceSeries:
    """A cleaned series. column/series pick a price column or the rows of one series in a CSV file;
    a pair the file names (ticker row, FRED code, column, file name) must be the pair asked for."""
    if source not in SOURCES:
        raise ForecasterError(f"source {source!r} is unknown: accepted {', '.join(SOURCES)}")
    start, end = _dates(start, end)
    if path is not None and source != "csv":
        source = "csv"
    if (column is not None or series is not None) and source != "csv":
        raise ForecasterError("--column and --series pick from a CSV file: give --path FILE as well")
    extra: dict = {}
    if source == "csv":
        if path is None:
            raise ForecasterError("source csv needs a file: pass --path FILE")
        asked = _pair_or_none(pair)
        data = csv_files.read_csv(path, column=column, series=series, pair=asked)
        if asked and data.label and data.label != asked:
            raise ForecasterError(f"{path} holds {data.label} ({data.label_origin}), but {asked} was asked for: "
                                  f"ask for {data.label}, or pass the file of {asked}")
        if strict and data.bad_values:
            line, text = data.bad_values[0]
            raise ForecasterError(f"{path}, line {line}: cannot read the close {text!r} "
                                  f"({len(data.bad_values)} unreadable close(s) in all; without --strict they are dropped)")
        frame, description = data.frame, f"CSV file {path}"
        if column or series:
            description += f" ({'series ' + series if series else ''}{', ' if column and series else ''}"
            description += f"{'column ' + column if column else ''})"
        name = asked or data.label or pair.upper()
        extra["path"] = str(Path(path).resolve())
    else:
        base, quote = parse_pair(pair)
        name = base + quote
        if source == "ecb":
            if interval != "1d":
                raise ForecasterError(f"the ECB publishes one fix a day: interval must be 1d, not {interval!r}")
            frame, description, extra = ecb.load(base, quote, cache_dir, offline)
        else:
            frame, description = yahoo.fetch(base, quote, interval, start, end, cache_dir, offline)
    if start is not None:
        frame = frame[frame.index >= start]
    if end is not None:
        frame = frame[frame.index <= end]
    frame, report = clean(frame, interval, strict)
    if source == "csv" and data.bad_values:
        report.unreadable = [list(bad) for bad in data.bad_values[:UNREADABLE_SHOWN]]
        report.unreadable_total = len(data.bad_values)
    if len(frame) < MIN_ROWS:
        span = f" between {start.date() if start is not None else 'the start'} and " \
               f"{end.date() if end is not None else 'the end'}" if start is not None or end is not None else ""
        dropped = [f"{n} {what}" for n, what in ((report.non_finite, "blank or non-numeric"),
                                                   (report.non_positive, "zero or negative"),
                                                   (report.weekend, "weekend")) if n]
        why = f" ({', '.join(dropped)} price(s) dropped of {report.rows_in})" if dropped else ""
        raise ForecasterError(f"{name} from {source}{span} has {len(frame)} usable rows{why}; "
                              f"at least {MIN_ROWS} are needed")
    return PriceSeries(frame=frame, pair=name, source=source, interval=interval, description=description,
                       report=report, extra=extra)


def _pair_or_none(pair: str) -> Optional[str]:
    try:
        return "".join(parse_pair(pair))
    except ForecasterError:
        return None


def _dates(start, end) -> tuple:
    """--start/--end as timestamps, checked: readable, and start not after end."""
    parsed = []
    for opt, value in (("--start", start), ("--end", end)):
        if value is None or isinstance(value, pd.Timestamp):
            parsed.append(value)
            continue
        try:
            parsed.append(pd.Timestamp(value))
        except (ValueError, TypeError) as exc:
            raise ForecasterError(f"{opt} {value!r} is not a date: write it as YYYY-MM-DD") from exc
    if parsed[0] is not None and parsed[1] is not None and parsed[0] > parsed[1]:
        raise ForecasterError(f"--start {parsed[0].date()} is after --end {parsed[1].date()}: swap them")
    return parsed[0], parsed[1]


def list_pairs(source: str = "ecb") -> list[str]:
    """ecb: the currencies it quotes (any two make a pair), ceased ones marked with their last date."""
    if source == "ecb":
        spans = ecb.currencies(ecb.rates())
        latest = max(last for _, last in spans.values())
        return [code if last == latest else f"{code} (until {last.date()})" for code, (_, last) in spans.items()]
    if source == "yahoo":
        return ["any pair as six letters (EURUSD, USDJPY, ...): fetched as the ticker EURUSD=X"]
    if source == "csv":
        return ["any file: --path FILE (yfinance CSV, MetaTrader export, Date/Open/High/Low/Close, FRED download; "
                "long tables with --series, wide tables with --column)"]
    raise ForecasterError(f"source {source!r} is unknown: accepted {', '.join(SOURCES)}")


def expand_pairs(pairs) -> list[str]:
    """"EURUSD,USDJPY", a named set ("majors", forecaster.configs.PAIR_SETS) or a list of either ->
    the pairs, normalised (EUR/USD -> EURUSD), each once, in the order given."""
    from forecaster.configs import PAIR_SETS

    items = [p for part in ([pairs] if isinstance(pairs, str) else list(pairs)) for p in str(part).split(",")]
    out: list[str] = []
    for item in (i.strip() for i in items):
        if not item:
            continue
        named = PAIR_SETS.get(item.lower())
        if named is None:
            try:
                named = ["".join(parse_pair(item))]
            except ForecasterError as exc:
                raise ForecasterError(str(exc) if "named set" in str(exc) else
                                      f"{exc}, or a named set ({', '.join(PAIR_SETS)})") from exc
        for pair in named:
            if pair not in out:
                out.append(pair)
    if not out:
        raise ForecasterError(f"no pair in {pairs!r}: give pairs separated by commas (EURUSD,USDJPY) or a named set "
                              f"({', '.join(PAIR_SETS)})")
    return out


def check_same_series(series: PriceSeries, trained: dict) -> list[str]:
    """A newer file or source standing in for the data a model was trained on must be the same series:
    the same pair and interval, holding the whole training range. trained: the model's saved
    fingerprint (PriceSeries.fingerprint()). Raises ForecasterError naming what differs; returns notes
    for people (say, the training range's prices differ from those trained on: revised data)."""
    problems = []
    if trained.get("pair") and series.pair != trained["pair"]:
        problems.append(f"it holds {series.pair}, the model was trained on {trained['pair']}")
    if trained.get("interval") and series.interval != trained["interval"]:
        problems.append(f"its bars are {series.interval}, the model's are {trained['interval']}")
    index = series.frame.index
    first, last = (pd.Timestamp(trained[k]) if trained.get(k) else None for k in ("first", "last"))
    if first is not None and last is not None and (index[0] > first or index[-1] < last):
        problems.append(f"it spans {index[0].date()} .. {index[-1].date()}, which does not contain the training "
                        f"range {first.date()} .. {last.date()}")
    if problems:
        raise ForecasterError(f"{series.description or series.source} cannot stand in for the model's data: "
                              + "; ".join(problems))
    notes = []
    if first is not None and last is not None and trained.get("sha256"):
        window = PriceSeries(frame=series.frame[(index >= first) & (index <= last)], pair=series.pair,
                             source=series.source, interval=series.interval)
        if window.fingerprint()["sha256"] != trained["sha256"]:
            notes.append(f"the prices of {first.date()} .. {last.date()} differ from those the model was trained on "
                         "(revised or differently cleaned data)")
    return notes


@dataclass
class SourceSpec:
    """Where the data comes from, saved with the model so that predict and backtest can load it again
    from any folder: a CSV file is stored with its absolute path (and, in the model's fingerprint, the
    hash and date range of the rows trained on)."""

    pair: str = "EURUSD"
    source: str = "ecb"
    interval: str = "1d"
    start: Optional[str] = None
    end: Optional[str] = None
    path: Optional[str] = None
    column: Optional[str] = None  # a wide or long CSV table's price column
    series: Optional[str] = None  # a long CSV table's series

    def __post_init__(self) -> None:
        if self.path is not None:
            self.path = str(Path(self.path).expanduser().resolve())

    def load(self, cache_dir=None, offline: bool = False, pair: Optional[str] = None) -> PriceSeries:
        return load_series(pair or self.pair, source=self.source, interval=self.interval, start=self.start,
                           end=self.end, path=self.path, cache_dir=cache_dir, offline=offline, column=self.column,
                           series=self.series)
