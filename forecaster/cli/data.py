"""`forecaster data pairs|fetch|show`."""

from __future__ import annotations

from typing import Optional

import typer

from forecaster.cli.app import app, emit_json, info, stderr

data_app = typer.Typer(help="List, fetch and inspect currency-pair series.", no_args_is_help=True)
app.add_typer(data_app, name="data")

SourceOpt = typer.Option("ecb", "--source", "-s", help="ecb (offline default), yahoo (yfinance + cache) or csv.")
IntervalOpt = typer.Option("1d", "--interval", "-i", help="Bar size: 1d; yahoo also 1h, 30m, 15m, 5m, 1m ...")
StartOpt = typer.Option(None, "--start", help="First date, YYYY-MM-DD.")
EndOpt = typer.Option(None, "--end", help="Last date, YYYY-MM-DD.")
PathOpt = typer.Option(None, "--path", help="A CSV file (source csv).")
CacheOpt = typer.Option(None, "--cache-dir", help="Price cache folder (default: data/cache in a checkout, "
                        "else ~/.cache/forecaster; env FORECASTER_CACHE_DIR).")
OfflineOpt = typer.Option(False, "--offline", help="Serve from the cache only; never touch the network.")
JsonOpt = typer.Option(False, "--json", help="Print machine-readable JSON on stdout.")


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

    items = list_pairs(source)
    if as_json:
        emit_json({"source": source, "pairs": items})
        return
    if source == "ecb":
        info("ECB currencies (any two make a pair, e.g. EURUSD, USDJPY, GBPUSD):")
    typer.echo("\n".join(items))


@data_app.command("fetch")
def fetch(
    pair: str = typer.Argument(..., help="Currency pair, e.g. EURUSD."),
    source: str = typer.Option("yahoo", "--source", "-s", help="yahoo (default here), ecb or csv."),
    interval: str = IntervalOpt, start: Optional[str] = StartOpt, end: Optional[str] = EndOpt,
    path: Optional[str] = PathOpt, cache_dir: Optional[str] = CacheOpt, offline: bool = OfflineOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Download (or refresh) a pair into the cache and summarise it.

    Example: forecaster data fetch EURUSD --source yahoo --interval 1h --start 2025-06-01
    """
    from forecaster.data import load_series

    series = load_series(pair, source=source, interval=interval, start=start, end=end, path=path,
                         cache_dir=cache_dir, offline=offline)
    summary = series_summary(series)
    if as_json:
        emit_json(summary)
    else:
        info(f"{series.pair} {series.interval}: {summary['rows']} rows, {summary['first']} .. {summary['last']}")
        info(series.description)


@data_app.command("show")
def show(
    pair: str = typer.Argument(..., help="Currency pair, e.g. EURUSD."),
    source: str = SourceOpt, interval: str = IntervalOpt, start: Optional[str] = StartOpt,
    end: Optional[str] = EndOpt, path: Optional[str] = PathOpt, cache_dir: Optional[str] = CacheOpt,
    offline: bool = OfflineOpt, rows: int = typer.Option(8, "--rows", help="How many of the latest rows to show."),
    strict: bool = typer.Option(False, "--strict", help="Fail on any data problem instead of repairing it."),
    as_json: bool = JsonOpt,
) -> None:
    """Show a pair: rows, date range, gaps, the cleaning report and the latest bars.

    Example: forecaster data show EURUSD
    """
    from rich.table import Table

    from forecaster.data import load_series

    series = load_series(pair, source=source, interval=interval, start=start, end=end, path=path,
                         cache_dir=cache_dir, offline=offline, strict=strict)
    summary = series_summary(series)
    tail = series.frame.tail(rows)
    if as_json:
        summary["latest"] = [{"date": d.isoformat(), **{k: float(v) for k, v in r.items()}} for d, r in tail.iterrows()]
        emit_json(summary)
        return
    stderr.print(f"[bold]{series.pair}[/] {series.interval} from {series.source}: {summary['rows']} rows, "
                 f"{summary['first'][:10]} .. {summary['last'][:10]}")
    stderr.print(f"[dim]{series.description}[/]")
    for line in series.report.summary_lines():
        stderr.print(f"  {line}")
    table = Table(title=f"latest {len(tail)} bars")
    table.add_column("date")
    for col in tail.columns:
        table.add_column(col, justify="right")
    for date, row in tail.iterrows():
        table.add_row(str(date.date()) if series.interval == "1d" else str(date), *(f"{v:.5f}" for v in row))
    stderr.print(table)
