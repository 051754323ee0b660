"""The backtest report: metrics JSON, a CSV of every forecast beside its actual, terminal tables.

    <out>/metrics.json     configuration, data, notes, forecast statistics (overall and per step),
                           trading statistics of every model, the baselines and buy-and-hold, the
                           verdict of each model against the random walk and the SPA test over all
    <out>/forecasts.csv    model, fold, origin, step, target date, forecast and actual (log return
                           and price), interval bounds where the model gives them
    <out>/tables.md        the terminal tables as Markdown
    <out>/*.png            see plots.py
All files are written atomically (temp file, then rename).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from forecaster.backtest.walkforward import BacktestResult
from forecaster.files import atomic_write, atomic_write_text, json_text
from forecaster.verdicts import spa_sentence, verdict_vs_random_walk


def _clean(value):
    """JSON-safe: NaN and infinities become null, numpy scalars plain numbers."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def metrics(result: BacktestResult) -> dict:
    return _clean({
        "pair": result.pair,
        "config": result.config.to_dict(),
        "data": result.info,
        "forecast": result.forecast_stats,
        "trading": result.trading_stats,
        "verdicts": verdicts(result),
        "multiple_comparisons": result.spa,
    })


def verdicts(result: BacktestResult) -> dict:
    """{model: the sentence against the random walk} from the overall DM test on the test origins
    (the per-origin squared price error averaged over the H steps); the random walk itself is left out."""
    same = set(result.spa.get("identical_to_benchmark", [])) | {"random_walk"}
    return {name: verdict_vs_random_walk(st["overall"].get("dm_p", math.nan), st["overall"].get("dm_p_worse", math.nan),
                                         st["n_origins"], "test")
            for name, st in result.forecast_stats.items() if name not in same}


def verdict_lines(result: BacktestResult) -> list[str]:
    """The sentences a person reads under the tables: each model's verdict, then the SPA test."""
    lines = [f"{name}: {text}" for name, text in verdicts(result).items()]
    return lines + ([spa_sentence(result.spa)] if result.spa else [])


def forecasts_frame(result: BacktestResult) -> pd.DataFrame:
    n, H = result.actual.shape
    origin_rows = np.repeat(result.origins, H)  # (N*H,)
    step = np.tile(np.arange(1, H + 1), n)
    target_rows = origin_rows + step
    last = result.close[origin_rows]
    actual = result.actual.ravel()
    frames = []
    for name, pred in result.forecasts.items():
        f = pred.ravel()
        frame = pd.DataFrame({
            "model": name, "fold": np.repeat(result.fold, H), "origin": result.dates[origin_rows], "step": step,
            "target_date": result.dates[target_rows], "last_close": last,
            "forecast_return": f, "actual_return": actual,
            "forecast_price": last * np.exp(f), "actual_price": result.close[target_rows],
        })
        for level, (lo, hi) in result.intervals.get(name, {}).items():
            pct = round(float(level) * 100)
            frame[f"lower_{pct}"], frame[f"upper_{pct}"] = last * np.exp(lo.ravel()), last * np.exp(hi.ravel())
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def write_report(result: BacktestResult, out: Path, plots: bool = True) -> dict:
    """Write the report directory; returns {kind: path}."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"metrics": out / "metrics.json", "forecasts": out / "forecasts.csv"}
    atomic_write_text(paths["metrics"], json_text(metrics(result)))  # NaN -> null: valid JSON
    frame = forecasts_frame(result)
    atomic_write(paths["forecasts"], lambda tmp: frame.to_csv(tmp, index=False, float_format="%.8g"))
    paths["tables"] = out / "tables.md"
    atomic_write_text(paths["tables"], markdown_tables(result))
    if plots:
        from forecaster.backtest import plots as _plots

        paths.update(_plots.write_plots(result, out))
    return {k: str(v) for k, v in paths.items()}


def _fmt(value, spec: str = ".4f") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return format(value, spec)


FORECAST_COLUMNS = [("MAE", "mae", ".5f"), ("RMSE", "rmse", ".5f"), ("MAPE%", "mape", ".3f"), ("MASE", "mase", ".3f"),
                    ("U2", "theil_u2", ".4f"), ("DA", "directional_accuracy", ".3f"), ("PT p", "pt_p", ".3f"),
                    ("DM", "dm_stat", ".2f"), ("DM p", "dm_p", ".3f")]
TRADING_COLUMNS = [("Total", "total_return", ".2%"), ("CAGR", "cagr", ".2%"), ("Vol", "volatility", ".2%"),
                   ("Sharpe", "sharpe", ".2f"), ("Sortino", "sortino", ".2f"), ("Calmar", "calmar", ".2f"),
                   ("MaxDD", "max_drawdown", ".2%"), ("DD bars", "max_drawdown_bars", "d"), ("Trades", "trades", "d"),
                   ("Win", "win_rate", ".1%"), ("PF", "profit_factor", ".2f"), ("Expect.", "expectancy", ".4%"),
                   ("Expo", "exposure", ".0%"), ("Turnover", "turnover", ".1f"), ("Costs", "costs_paid", ".2%")]


def forecast_table_rows(result: BacktestResult) -> list[list[str]]:
    rows = []
    for name, st in result.forecast_stats.items():
        o = st["overall"]
        cov = " ".join(f"{k[9:]}%:{o[k]:.2f}" for k in o if k.startswith("coverage_")) or "-"
        rows.append([name] + [_fmt(o.get(key), spec) for _, key, spec in FORECAST_COLUMNS] + [cov])
    return rows


def trading_table_rows(result: BacktestResult) -> list[list[str]]:
    return [[name] + [_fmt(st.get(key), spec) for _, key, spec in TRADING_COLUMNS]
            for name, st in result.trading_stats.items()]


def print_tables(result: BacktestResult, console) -> None:
    """Rich tables of the forecast and trading statistics, on `console` (the CLI's stdout)."""
    from rich.table import Table

    info = result.info
    title = (f"{result.pair} ({info['source']}, {info['interval']}): {info['origins']} origins "
             f"{info['test_first_origin'][:10]}..{info['test_last_origin'][:10]}, {info['folds']} fold(s), "
             f"H={result.config.horizon}")
    table = Table(title=f"Forecasts — {title}", title_justify="left")
    for head in ["model"] + [c[0] for c in FORECAST_COLUMNS] + ["coverage"]:
        table.add_column(head, justify="left" if head == "model" else "right", no_wrap=True)
    for row in forecast_table_rows(result):
        table.add_row(*row)
    _print_wide(console, table)
    for line in verdict_lines(result):
        console.print(line, highlight=False, markup=False, soft_wrap=True)
    costs = result.config.costs
    table = Table(title=f"Trading (step-{result.config.signal_step} signal, spread {costs.spread_pips} pips, "
                        f"commission {costs.commission_bp} bp, slippage {costs.slippage_bp} bp; "
                        f"{result.bars_per_year:.1f} bars/year; swap not modelled)", title_justify="left")
    for head in ["model"] + [c[0] for c in TRADING_COLUMNS]:
        table.add_column(head, justify="left" if head == "model" else "right", no_wrap=True)
    for row in trading_table_rows(result):
        table.add_row(*row)
    _print_wide(console, table)


def _print_wide(console, table, width: int = 200) -> None:
    """Print without squeezing columns when the console is not a wide terminal (a pipe counts as 80)."""
    before = console.width
    console.width = max(before, width)
    try:
        console.print(table)
    finally:
        console.width = before


def markdown_tables(result: BacktestResult) -> str:
    """The same two tables as Markdown (for BENCHMARKS.md), the verdicts and the SPA line between them."""
    def md(header, rows):
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])

    said = "".join(f"- {line}\n" for line in verdict_lines(result))
    return (md(["model"] + [c[0] for c in FORECAST_COLUMNS] + ["coverage"], forecast_table_rows(result)) + "\n\n"
            + (said + "\n" if said else "") + md(["model"] + [c[0] for c in TRADING_COLUMNS], trading_table_rows(result)))
