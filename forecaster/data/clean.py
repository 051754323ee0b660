"""Cleaning a raw price frame, with a report of everything that was changed and why."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Optional

import numpy as np
import pandas as pd

from forecaster.data import alignment
from forecaster.errors import ForecasterError

# Longest run of missing business days that is still ordinary (holidays: Easter drops Friday and Monday).
MAX_ORDINARY_GAP_DAYS = 3
UNREADABLE_SHOWN = 5  # unreadable prices the report names (line and text); the rest are counted


@dataclass
class CleaningReport:
    rows_in: int = 0
    rows_out: int = 0
    unsorted: bool = False
    duplicates: int = 0  # repeated timestamps dropped (the last kept)
    weekend: int = 0  # bars on a weekend dropped (FX does not trade then)
    non_finite: int = 0  # rows whose close is missing, blank, not a number or not finite
    non_positive: int = 0  # rows whose close is zero or negative
    ohlc_repaired: int = 0  # open/high/low made consistent with the close
    gaps: list = field(default_factory=list)  # [{"after", "before", "missing_business_days"}]
    unreadable: list = field(default_factory=list)  # [[line, text]] of the first UNREADABLE_SHOWN unreadable closes
    unreadable_total: int = 0  # unreadable closes in the file (a CSV's line numbers; set by the loader)
    bar_alignment: Optional[dict] = None  # alignment.AlignmentCheck.to_dict() of OHLC bars (None: close only)

    @property
    def problems(self) -> int:
        return self.duplicates + self.weekend + self.non_finite + self.non_positive + self.ohlc_repaired + len(self.gaps)

    def to_dict(self) -> dict:
        return asdict(self)

    def summary_lines(self) -> list[str]:
        lines = [f"rows: {self.rows_in} in, {self.rows_out} kept"]
        for name in ("duplicates", "weekend", "non_finite", "non_positive", "ohlc_repaired"):
            count = getattr(self, name)
            if count:
                lines.append(f"{name.replace('_', ' ')}: {count}")
        if self.unreadable:
            shown = "; ".join(f"line {line} {text!r}" for line, text in self.unreadable)
            more = self.unreadable_total - len(self.unreadable)
            lines.append(f"unreadable closes in the file: {shown}{f' and {more} more' if more > 0 else ''}")
        if self.unsorted:
            lines.append("rows were out of order and have been sorted")
        if self.gaps:
            longest = max(self.gaps, key=lambda g: g["missing_business_days"])
            lines.append(
                f"gaps longer than {MAX_ORDINARY_GAP_DAYS} business days: {len(self.gaps)} "
                f"(longest {longest['missing_business_days']} days after {longest['after']})"
            )
        if self.bar_alignment and self.bar_alignment["misaligned"]:
            lines.append(alignment.AlignmentCheck.from_dict(self.bar_alignment).line()
                         + " (range features: the previous bar's, by default)")
        return lines


def clean(frame: pd.DataFrame, interval: str = "1d", strict: bool = False) -> tuple[pd.DataFrame, CleaningReport]:
    """Sort, drop bad closes, de-duplicate (keep last), drop weekend bars, repair OHLC, find gaps.

    strict: any problem found raises ForecasterError instead of being repaired.
    """
    report = CleaningReport(rows_in=len(frame))
    df = frame.copy()
    if not df.index.is_monotonic_increasing:
        report.unsorted = True
        df = df.sort_index(kind="stable")
    # bad closes first, so that a blank copy of a date never displaces a good one
    close = df["close"].to_numpy(dtype="float64")
    bad_value = ~np.isfinite(close)
    report.non_finite = int(bad_value.sum())
    non_positive = np.isfinite(close) & (close <= 0)
    report.non_positive = int(non_positive.sum())
    df = df[~(bad_value | non_positive)]

    dup = df.index.duplicated(keep="last")
    report.duplicates = int(dup.sum())
    df = df[~dup]

    weekend = df.index.day_of_week >= 5
    if interval not in ("1d", "5d", "1wk", "1mo", "3mo"):
        # intraday FX trades from Sunday evening (about 21:00 UTC): keep those bars
        weekend = (df.index.day_of_week == 5) | ((df.index.day_of_week == 6) & (df.index.hour < 20))
    report.weekend = int(weekend.sum())
    df = df[~weekend]

    df, report.ohlc_repaired = _repair_ohlc(df)
    report.gaps = find_gaps(df.index, interval)
    report.rows_out = len(df)
    checked = alignment.attach(df) if {"high", "low"} <= set(df.columns) else None
    report.bar_alignment = None if checked is None else checked.to_dict()
    if strict and report.problems:
        raise ForecasterError("strict cleaning found problems: " + "; ".join(report.summary_lines()[1:]))
    return df, report


def _repair_ohlc(df: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Invalid open/high/low (missing, <= 0) are replaced from the close; high and low are widened
    to contain open and close. Returns the frame and how many rows changed."""
    if not {"open", "high", "low"} <= set(df.columns):
        return df, 0
    ohlc = df[["open", "high", "low", "close"]].astype("float64")
    before = ohlc.copy()
    for col in ("open", "high", "low"):
        bad = ~np.isfinite(ohlc[col]) | (ohlc[col] <= 0)
        ohlc.loc[bad, col] = ohlc.loc[bad, "close"]
    ohlc["high"] = ohlc[["open", "high", "low", "close"]].max(axis=1)
    ohlc["low"] = ohlc[["open", "high", "low", "close"]].min(axis=1)
    changed = ~((ohlc == before) | (ohlc.isna() & before.isna())).all(axis=1)
    df = df.copy()
    df[["open", "high", "low", "close"]] = ohlc
    return df, int(changed.sum())


def find_gaps(index: pd.DatetimeIndex, interval: str = "1d") -> list[dict]:
    """Runs of missing business days longer than the calendar allows (daily data only)."""
    if interval != "1d" or len(index) < 2:
        return []
    days = index.normalize().to_numpy(dtype="datetime64[D]")
    missing = np.busday_count(days[:-1], days[1:]) - 1  # business days strictly between
    return [
        {"after": str(index[i].date()), "before": str(index[i + 1].date()), "missing_business_days": int(m)}
        for i, m in enumerate(missing)
        if m > MAX_ORDINARY_GAP_DAYS
    ]
