"""The Exchange-Rate benchmark's data (Lai et al. 2018): daily USD values of 8 currencies, 7,588 rows.

Two published formats, which the user downloads:
  - the original headerless comma-separated `exchange_rate.txt(.gz)` (LSTNet repository);
  - the LTSF `exchange_rate.csv` (Autoformer / Time-Series-Library), header `date,0,...,6,OT`,
    whose `date` column is synthetic (never a feature) and whose last two columns are swapped
    with respect to Lai's order (OT = Lai's column 6, `6` = Lai's column 7).
Both load to the same (7588, 8) array in Lai's column order (CHANNELS).
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import Optional

import numpy as np

from forecaster.errors import ForecasterError

CHANNELS = ("AUD", "GBP", "CAD", "CHF", "CNY", "JPY", "NZD", "SGD")  # Lai's column order
LTSF_COLUMNS = ("0", "1", "2", "3", "4", "5", "OT", "6")  # LTSF csv columns in Lai's order
DATA_ENV = "FORECASTER_EXCHANGE_DATA"  # a file, or a folder holding exchange_rate.txt.gz / .csv


def find_data(path: Optional[str | os.PathLike] = None) -> Path:
    """The data file: `path` (a file, or a folder holding exchange_rate.txt.gz or .csv), else the
    environment variable FORECASTER_EXCHANGE_DATA. Raises ForecasterError when there is none."""
    candidate = path if path is not None else os.environ.get(DATA_ENV)
    if candidate is None:
        raise ForecasterError(f"no Exchange-Rate data given: pass --data PATH (exchange_rate.txt(.gz) or the LTSF "
                              f"exchange_rate.csv) or set {DATA_ENV}")
    p = Path(candidate).expanduser()
    if p.is_dir():
        for name in ("exchange_rate.txt.gz", "exchange_rate.txt", "exchange_rate.csv"):
            if (p / name).is_file():
                return p / name
        raise ForecasterError(f"folder {str(p)!r} holds no exchange_rate.txt.gz, exchange_rate.txt or exchange_rate.csv")
    if not p.is_file():
        raise ForecasterError(f"Exchange-Rate data file {str(p)!r} does not exist: accepted exchange_rate.txt(.gz) or .csv")
    return p


def load_exchange(path: str | os.PathLike) -> np.ndarray:
    """Read either format -> (n, 8) float64 in Lai's column order (CHANNELS). The LTSF csv's
    synthetic date column is dropped and its columns reordered."""
    p = Path(path)
    try:
        raw = gzip.open(p, "rt").read() if p.suffix == ".gz" else p.read_text()
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        raise ForecasterError(f"cannot read {str(p)!r} as text: {exc}") from exc
    lines = [line for line in raw.splitlines() if line.strip()]
    if not lines:
        raise ForecasterError(f"{str(p)!r} is empty: expected 8 comma-separated currency columns")
    header = [h.strip() for h in lines[0].split(",")]
    if header[0].lower() == "date":  # LTSF csv: drop the synthetic date, put the columns in Lai's order
        missing = [c for c in LTSF_COLUMNS if c not in header]
        if missing:
            raise ForecasterError(f"{str(p)!r} has header {header}: an LTSF exchange_rate.csv needs columns "
                                  f"date,{','.join(sorted(LTSF_COLUMNS))} (missing {missing})")
        order = [header.index(c) for c in LTSF_COLUMNS]
        rows = _split_rows(p, lines[1:], len(header), first_line=2)
        return _numbers(p, [[r[i] for i in order] for r in rows], first_line=2)
    return _numbers(p, _split_rows(p, lines, 8, first_line=1), first_line=1)


def _split_rows(p: Path, lines: list[str], width: int, first_line: int) -> list[list[str]]:
    rows = [line.split(",") for line in lines]
    for i, r in enumerate(rows):
        if len(r) != width:
            raise ForecasterError(f"{str(p)!r} line {i + first_line} has {len(r)} fields: expected {width}")
    return rows


def _numbers(p: Path, rows: list[list[str]], first_line: int) -> np.ndarray:
    """rows of 8 strings -> (n, 8) float64, every value finite."""
    try:
        table = np.array([[float(v) for v in r] for r in rows], dtype=np.float64).reshape(len(rows), 8)
    except ValueError as exc:
        raise ForecasterError(f"{str(p)!r} holds a value that is not a number ({exc}): expected 8 numeric columns") from exc
    if not np.isfinite(table).all():
        row = int(np.argwhere(~np.isfinite(table))[0, 0])
        raise ForecasterError(f"{str(p)!r} line {row + first_line} holds a non-finite value: expected finite numbers")
    return table
