"""`forecaster demo`: the main job end to end on the bundled ECB data, offline."""

from __future__ import annotations

from pathlib import Path

import typer

from forecaster.cli.app import app, emit_json, info, progress_bar, settings, show
from forecaster.cli.options import JsonOpt
from forecaster.configs import DEMO_EPOCHS, BacktestConfig


@app.command("demo")
def demo(
    pair: str = typer.Argument("EURUSD", help="An ECB pair, e.g. EURUSD, USDJPY, GBPUSD."),
    out: Path = typer.Option(Path("demo"), "--out", "-o", help="Folder for the model, reports and plots."),
    epochs: int = typer.Option(DEMO_EPOCHS, "--epochs", help="Most training epochs (early stopping usually ends sooner)."),
    test_years: float = typer.Option(BacktestConfig.test_years, "--test-years", help="Backtest over the last years of the data."),
    as_json: bool = JsonOpt,
) -> None:
    """Train a small model, backtest it beside the baselines, forecast the next bars; all offline.

    Example: forecaster demo EURUSD --out demo
    """
    from forecaster.demo import run_demo
    from forecaster.util.files import check_writable
    from forecaster.data.calendar import stale_note

    check_writable(out, folder=True)
    info(f"demo on {pair.upper()}: training on the ECB data before the last {test_years:g} years, then backtesting")
    device = "cpu" if settings.device == "auto" else settings.device
    with progress_bar("backtest") as progress:
        summary = run_demo(out, pair, epochs=epochs, test_years=test_years, seed=settings.seed, device=device,
                           progress=settings.verbosity >= 0, progress_fn=progress)
    if as_json:
        emit_json(summary)
        return
    v, f = summary["validation"], summary["forecast"]
    if "shipped" in v:
        head = f"validation: the shipped forecast is {v['verdict']}; shipped: {v['shipped']}"
    else:
        head = (f"validation: the trained forecast is {v['verdict']}; "
                + ("kept" if v["kept"] == "model" else "the model keeps the no-change centre (and its learned spread)"))
    lines = [head, "backtest (the same summary `forecaster backtest` opens with):", *summary["backtest_summary"]]
    if f["volatility_annual"] is not None:
        var = f["var_95_1d"]["long"]
        lines.append(f"next bars: forecast volatility {f['volatility_annual']:.1%} a year, one-bar 95% value at risk "
                     f"of a long position {var['percent']:.2f}% ({var['pips']:.0f} pips)")
    if summary["data"]["stale"]:
        lines.append(stale_note(summary["data"]["stale"]))
    lines.append(f"done in {summary['seconds']:.0f}s. Look at:")
    lines += [f"  {key:>22}: {path}" for key, path in summary["files"].items()]
    show(*lines)
