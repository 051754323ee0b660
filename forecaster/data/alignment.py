"""Do a file's high and low belong to the bar its close ends? A check on the data itself.

A bar's range u_t = log(high_t / low_t) spans the bar's trading, and so holds the move from the
last close to this one, r_t = log(close_t / close_{t-1}): ranges rank with |r_t| far more closely
than with the next bar's |r_{t+1}| (which they only share through volatility clustering). Yahoo's
daily FX bars break this: their close is a snapshot taken before the bar's high/low window ends,
so the range of bar t also holds part of the move to the next close, and a range feature would
carry part of the next return's size into the forecast (a look-ahead the backtest cannot see,
because it is in the data, not in the code).

The check, year by year (a provider can change its bars: a whole-file figure passes a file that
is misaligned in its recent years), over the bars of each calendar year:

    own_y  = Spearman rank correlation of (u_t, |r_t|)
    next_y = Spearman rank correlation of (u_t, |r_{t+1}|)
    year y is flagged when it has at least MIN_BARS bars and next_y - own_y > MARGIN.

Rank correlations, because a few extreme bars swing Pearson's a long way. The bars look
misaligned when any year is flagged. Range features then use the previous completed bar's
range by default (DataConfig.misaligned_range; forecaster.data.windows.build_features).

The result is attached to the price frame (`frame.attrs`, which pandas carries along through every
slice, so a backtest's Histories and a model's lookback windows see the whole file's verdict and
make the same choice in every fold); the cleaning report keeps it as a dict.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Optional

import numpy as np
import pandas as pd

MIN_BARS = 100  # bars a calendar year needs before it is judged
MARGIN = 0.10  # a year is flagged when rank corr(range_t, |r_t+1|) exceeds rank corr(range_t, |r_t|) by more
ATTR = "bar_alignment"  # key of the check in PriceSeries.frame.attrs


@dataclass
class AlignmentCheck:
    """Per-year rank correlations of the bar range with this bar's and the next bar's absolute return."""

    years: list = field(default_factory=list)  # [{"year", "bars", "own", "next", "flagged"}]

    @property
    def checked(self) -> list:
        return [y for y in self.years if y["bars"] >= MIN_BARS]

    @property
    def flagged(self) -> list:
        return [y for y in self.years if y["flagged"]]

    @property
    def misaligned(self) -> bool:
        return bool(self.flagged)

    def to_dict(self) -> dict:
        return {**asdict(self), "misaligned": self.misaligned, "min_bars": MIN_BARS, "margin": MARGIN}

    @classmethod
    def from_dict(cls, data: dict) -> "AlignmentCheck":
        return cls(years=list(data["years"]))

    def line(self) -> str:
        """One line with the numbers (for a misaligned file; '' for one that passed)."""
        if not self.misaligned:
            return ""
        flagged = self.flagged
        names = [y["year"] for y in flagged]
        span = f"{names[0]}" if len(names) == 1 else f"{names[0]}..{names[-1]}"
        own = float(np.median([y["own"] for y in flagged]))
        nxt = float(np.median([y["next"] for y in flagged]))
        return (f"bars look misaligned in {len(flagged)} of {len(self.checked)} years ({span}): the range ranks "
                f"with the next bar's |return| (Spearman {nxt:.2f}) more than with its own ({own:.2f}), medians "
                f"of those years; a year is flagged above +{MARGIN:.2f} with {MIN_BARS}+ bars")


def check(frame: pd.DataFrame) -> Optional[AlignmentCheck]:
    """The check of a price frame with open/high/low/close (None for a frame without high and low)."""
    if not {"high", "low", "close"} <= set(frame.columns):
        return None
    close = frame["close"].to_numpy(dtype=np.float64)
    high, low = frame["high"].to_numpy(dtype=np.float64), frame["low"].to_numpy(dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        u = np.log(high / low)  # (T,) range of bar t
        a = np.abs(np.diff(np.log(close), prepend=np.nan))  # (T,) |r_t|
    table = pd.DataFrame({"u": u, "own": a, "next": np.append(a[1:], np.nan)}, index=frame.index)
    table = table[np.isfinite(table).all(axis=1)]
    years = []
    for year, rows in table.groupby(table.index.year):
        own = _spearman(rows["u"], rows["own"])
        nxt = _spearman(rows["u"], rows["next"])
        flagged = len(rows) >= MIN_BARS and np.isfinite(own) and np.isfinite(nxt) and nxt - own > MARGIN
        years.append({"year": int(year), "bars": int(len(rows)), "own": round(own, 4), "next": round(nxt, 4),
                      "flagged": bool(flagged)})
    return AlignmentCheck(years=years)


def _spearman(x: pd.Series, y: pd.Series) -> float:
    if len(x) < 3 or x.nunique() < 2 or y.nunique() < 2:
        return float("nan")
    return float(x.corr(y, method="spearman"))


def attach(frame: pd.DataFrame) -> Optional[AlignmentCheck]:
    """Run the check and keep it on the frame (frame.attrs[ATTR]); returns it."""
    result = check(frame)
    frame.attrs[ATTR] = None if result is None else result.to_dict()
    return result


def of(frame: pd.DataFrame) -> Optional[AlignmentCheck]:
    """The check attached to a frame (by the load, or on a slice of a loaded frame); a frame that
    has none is checked now."""
    if ATTR not in frame.attrs:
        return attach(frame)
    saved = frame.attrs[ATTR]
    return None if saved is None else AlignmentCheck.from_dict(saved)
