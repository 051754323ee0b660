"""The tidy price series every source returns, and the currency-pair names it is keyed by."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Optional

import pandas as pd

from forecaster.errors import ForecasterError

PRICE_COLUMNS = ("open", "high", "low", "close")

# ISO 4217 codes of currencies people trade or that central banks publish (for recognising labels).
CURRENCIES = frozenset(
    "USD EUR JPY GBP CHF AUD NZD CAD SEK NOK DKK PLN CZK HUF RON BGN HRK ISK TRY RUB CNY CNH HKD SGD KRW TWD "
    "THB MYR IDR PHP INR LKR ZAR MXN BRL ARS CLP COP PEN ILS SAR AED KWD QAR EGP NGN KES VND PKR CYP MTL SIT SKK "
    "EEK LVL LTL GRD ROL TRL XAU XAG VEF".split()
)


def parse_pair(pair: str) -> tuple[str, str]:
    """'EURUSD', 'eur/usd', 'EUR-USD' or 'EURUSD=X' -> ('EUR', 'USD'). At least one side must be a
    known currency code (CURRENCIES; the other may be one a source knows and this list does not)."""
    text = re.sub(r"[\s/_\-]", "", pair.upper()).removesuffix("=X")
    if not re.fullmatch(r"[A-Z]{6}", text):
        raise ForecasterError(f"pair {pair!r} is not a currency pair: write it as six letters such as EURUSD or EUR/USD, "
                              f"or {_named_sets()}")
    if text[:3] == text[3:]:
        raise ForecasterError(f"pair {pair!r} has the same currency on both sides")
    if text[:3] not in CURRENCIES and text[3:] not in CURRENCIES:  # a word such as a mistyped set name
        raise ForecasterError(f"pair {pair!r} is not a currency pair: neither {text[:3]} nor {text[3:]} is a currency "
                              f"code; write six letters such as EURUSD, or {_named_sets()}")
    return text[:3], text[3:]


def _named_sets() -> str:
    from forecaster.configs import PAIR_SETS

    return f"a named set of pairs for --pairs ({', '.join(PAIR_SETS)})"


def pip_size(pair: str) -> float:
    """A pip is 0.0001, or 0.01 when the quote currency is the yen."""
    return 0.01 if parse_pair(pair)[1] == "JPY" else 0.0001


@dataclass
class PriceSeries:
    """frame: DatetimeIndex named 'date', sorted and unique; float64 'close' always, and
    'open', 'high', 'low' where the source knows them. A frame with high and low carries the check of
    its bars' alignment in frame.attrs (forecaster.data.alignment), made once, here or by cleaning,
    and kept by every slice of the frame."""

    frame: pd.DataFrame
    pair: str
    source: str
    interval: str = "1d"
    description: str = ""
    report: Optional["CleaningReport"] = None  # noqa: F821 (forecaster.data.clean)
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        from forecaster.data import alignment

        if {"high", "low"} <= set(self.frame.columns) and alignment.ATTR not in self.frame.attrs:
            alignment.attach(self.frame)

    @property
    def close(self) -> pd.Series:
        return self.frame["close"]

    def until(self, date) -> "PriceSeries":
        """The same series up to and including `date` (the data as it stood then)."""
        from dataclasses import replace

        from forecaster.errors import ForecasterError

        cut = _date(date)
        if not len(self.frame) or cut < self.frame.index[0]:
            raise ForecasterError(f"{date} lies before the first bar of {self.pair} "
                                  f"({self.frame.index[0].date() if len(self.frame) else 'no data'}): give a later date")
        return replace(self, frame=self.frame.loc[:cut])

    def fingerprint(self) -> dict:
        """What identifies the data a model was trained on."""
        digest = hashlib.sha256()
        digest.update(self.frame.index.asi8.tobytes() if len(self.frame) else b"")
        digest.update(self.frame["close"].to_numpy(dtype="float64").tobytes())
        return {
            "source": self.source,
            "pair": self.pair,
            "interval": self.interval,
            "first": self.frame.index[0].isoformat() if len(self.frame) else None,
            "last": self.frame.index[-1].isoformat() if len(self.frame) else None,
            "rows": int(len(self.frame)),
            "sha256": digest.hexdigest(),
        }


def _date(value) -> pd.Timestamp:
    from forecaster.errors import ForecasterError

    try:
        return pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise ForecasterError(f"{value!r} is not a date: accepted YYYY-MM-DD") from exc
