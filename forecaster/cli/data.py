"""`forecaster data pairs|fetch|show|update`."""

from __future__ import annotations

from typing import Optional

import typer

from forecaster.cli.app import app, emit_json, info, show as show_result
from forecaster.cli.options import ColumnOpt, EndOpt, JsonOpt, SeriesOpt, StartOpt

data_app = typer.Typer(help="List, fetch and inspect currency-pair series.", no_args_is_help=True)
app.add_typer(data_app, name="data")

SourceOpt = typer.Option("ecb", "--source", "-s", help="ecb (default: refreshed when online, else the bundled "
                         "copy), yahoo (yfinance + cache) or csv.")
IntervalOpt = typer.Option("1d", "--interval", "-i", help="Bar size: 1d; yahoo also 1h, 30m, 15m, 5m, 1m ...")
PathOpt = typer.Option(None, "--path", help="A CSV file (source csv): yfinance, MetaTrader, OHLC, FRED, long or wide table.")
CacheOpt = typer.Option(None, "--cache-dir", help="Price cache folder (default: data/cache in a checkout, "
                        "else ~/.cache/forecaster; env FORECASTER_CACHE_DIR).")
OfflineOpt = typer.Option(False, "--offline", help="Never touch the network: the cache (yahoo), or the cache or "
                          "bundled copy (ecb). Env FORECASTER_OFFLINE=1 does the same.")


def series_summary(series) -> dict:
    frame = series.frame
    return {
        **series.fingerprint(),
        "description": series.description,
        "columns": list(frame.columns),
        "report": series.report.to_dict() if series.report else None,
    }


@data_app.command("pairs")
def pairs(source: str = SourceOpt, as_json: bool = JsonOpt) -> None:
    """List what a source offers.

    Example: forecaster data pairs --source ecb
    """
    from forecaster.data import list_pairs

    from forecaster.configs import PAIR_SETS

    items = list_pairs(source)
    if as_json:
        emit_json({"source": source, "pairs": items, "sets": {k: list(v) for k, v in PAIR_SETS.items()}})
        return
    if source == "ecb":
        info("ECB currencies (any two make a pair, e.g. EURUSD, USDJPY, GBPUSD):")
    show_result("\n".join(items))
    info("named sets for `forecaster train --pairs`: "
         + "; ".join(f"{k} = {', '.join(v)}" for k, v in PAIR_SETS.items()))


@data_app.command("fetch")
def fetch(
    pair: str = typer.Argument(..., help="Currency pair, e.g. EURUSD."),
    source: str = typer.Option("yahoo", "--source", "-s", help="yahoo (default here), ecb or csv."),
    interval: str = IntervalOpt, start: Optional[str] = StartOpt, end: Optional[str] = EndOpt,
    path: Optional[str] = PathOpt, column: Optional[str] = ColumnOpt, series: Optional[str] = SeriesOpt,
    cache_dir: Optional[str] = CacheOpt, offline: bool = OfflineOpt, as_json: bool = JsonOpt,
) -> None:
    """Download (or refresh) a pair into the cache and summarise it.

    Example: forecaster data fetch EURUSD --source yahoo --interval 1h --start 2025-06-01
    """
    from forecaster.data import load_series

    loaded = load_series(pair, source=source, interval=interval, start=start, end=end, path=path,
                         cache_dir=cache_dir, offline=offline, column=column, series=series)
    summary = series_summary(loaded)
    if as_json:
        emit_json(summary)
    else:
        show_result(f"{loaded.pair} {loaded.interval}: {summary['rows']} rows, {summary['first']} .. {summary['last']}",
                    loaded.description)


@data_app.command("show")
def show(
    pair: str = typer.Argument(..., help="Currency pair, e.g. EURUSD."),
    source: str = SourceOpt, interval: str = IntervalOpt, start: Optional[str] = StartOpt,
    end: Optional[str] = EndOpt, path: Optional[str] = PathOpt, column: Optional[str] = ColumnOpt,
    series: Optional[str] = SeriesOpt, cache_dir: Optional[str] = CacheOpt,
    offline: bool = OfflineOpt, rows: int = typer.Option(8, "--rows", help="How many of the latest rows to show."),
    strict: bool = typer.Option(False, "--strict", help="Fail on any data problem instead of repairing it."),
    as_json: bool = JsonOpt,
) -> None:
    """Show a pair: rows, date range, gaps, the cleaning report and the latest bars.

    Example: forecaster data show EURUSD
    """
    from rich.table import Table

    from forecaster.data import load_series

    from forecaster.errors import ForecasterError

    if rows < 0:
        raise ForecasterError(f"--rows {rows} is negative: give how many of the latest bars to show (0 or more)")
    loaded = load_series(pair, source=source, interval=interval, start=start, end=end, path=path,
                         cache_dir=cache_dir, offline=offline, strict=strict, column=column, series=series)
    summary = series_summary(loaded)
    tail = loaded.frame.tail(rows) if rows else loaded.frame.iloc[:0]
    if as_json:
        summary["latest"] = [{"date": d.isoformat(), **{k: float(v) for k, v in r.items()}} for d, r in tail.iterrows()]
        emit_json(summary)
        return
    table = Table(title=f"{loaded.pair}: latest {len(tail)} bars", title_justify="left")
    table.add_column("date")
    for col in tail.columns:
        table.add_column(col, justify="right")
    for date, row in tail.iterrows():
        table.add_row(str(date.date()) if loaded.interval == "1d" else str(date), *(f"{v:.5f}" for v in row))
    show_result(table)
    show_result(f"[bold]{loaded.pair}[/] {loaded.interval} from {loaded.source}: {summary['rows']} rows, "
                f"{summary['first'][:10]} .. {summary['last'][:10]}", f"[dim]{loaded.description}[/]",
                *(f"  {line}" for line in loaded.report.summary_lines()))


@data_app.command("update")
def update(cache_dir: Optional[str] = CacheOpt, as_json: bool = JsonOpt) -> None:
    """Refresh the ECB rates into the cache now (the default source also does this on its own when online).

    Example: forecaster data update
    """
    from forecaster.data import ecb

    info(f"fetching {ecb.URL} ...")
    result = ecb.refresh(cache_dir)
    summary = {"source": "ecb", "path": str(result.path), "rows": result.rows_after, "added": result.added,
               "first": str(result.first.date()), "last": str(result.last.date()),
               "last_before": None if result.last_before is None else str(result.last_before.date())}
    if as_json:
        emit_json(summary)
        return
    show_result(f"ECB rates up to {summary['last']}: {result.rows_after} days, {result.added} new, in {result.path}")
