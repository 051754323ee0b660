"""The on-disk price cache: one file per (source, ticker, interval), written atomically.

Parquet when pyarrow is importable, CSV otherwise. A refresh merges new bars into the cached
ones (the newest copy of a timestamp wins) and never writes a result smaller than what was
cached, so a failed or empty download cannot lose good data.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Optional

import pandas as pd

from forecaster.errors import ForecasterError
from forecaster.util.files import atomic_write

ENV_VAR = "FORECASTER_CACHE_DIR"


def _checkout_root() -> Optional[Path]:
    """The source checkout this package runs from, if any (a folder with pyproject.toml and forecaster/)."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "pyproject.toml").is_file() and (root / "forecaster").is_dir() else None


def default_cache_dir() -> Path:
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    root = _checkout_root()
    if root is not None:
        return root / "data" / "cache"
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "forecaster"


def _has_parquet() -> bool:
    try:
        import pyarrow  # noqa: F401

        return True
    except ImportError:
        return False


def cache_path(cache_dir: Path, source: str, ticker: str, interval: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", ticker)
    suffix = ".parquet" if _has_parquet() else ".csv"
    return Path(cache_dir) / source / f"{safe}_{interval}{suffix}"


def read(path: Path) -> Optional[pd.DataFrame]:
    """The cached frame, or None when there is none."""
    if not path.exists():
        return None
    try:
        if path.suffix == ".parquet":
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path, index_col=0)
            frame.index = pd.to_datetime(frame.index)
    except Exception as exc:
        raise ForecasterError(f"the cache file {path} is unreadable ({exc}); delete it to fetch afresh") from exc
    frame.index.name = "date"
    return frame


def write_atomic(frame: pd.DataFrame, path: Path) -> None:
    atomic_write(path, frame.to_parquet if path.suffix == ".parquet" else frame.to_csv)


def merge(cached: Optional[pd.DataFrame], new: pd.DataFrame) -> pd.DataFrame:
    """Union of both; where a timestamp is in both, the new bar wins (the last bar can be provisional)."""
    if cached is None or cached.empty:
        merged = new
    else:
        merged = pd.concat([cached, new])
    merged = merged[~merged.index.duplicated(keep="last")]
    return merged.sort_index()


def update(path: Path, new: pd.DataFrame) -> pd.DataFrame:
    """Merge new bars into the cache file and write it, unless that would lose cached rows."""
    cached = read(path)
    merged = merge(cached, new)
    if cached is not None and len(merged) < len(cached):  # cannot happen with a union; a guard all the same
        return cached
    if not new.empty:
        write_atomic(merged, path)
    return merged
