"""`forecaster benchmark exchange`: the Exchange-Rate benchmark under the standard protocol."""

from __future__ import annotations

import re
from typing import Optional

import typer

from forecaster.cli.app import app, emit_json, info, settings
from forecaster.cli.options import JsonOpt
from forecaster.errors import ForecasterError

benchmark_app = typer.Typer(help="Accuracy benchmarks beside published results.", no_args_is_help=True)
app.add_typer(benchmark_app, name="benchmark")


def parse_horizons(text: str) -> list[int]:
    """"96,192" or "96 192" -> [96, 192]."""
    parts = [p for p in re.split(r"[,\s]+", text.strip()) if p]
    if not parts or not all(p.isdigit() and int(p) >= 1 for p in parts):
        raise ForecasterError(f"--horizons {text!r} is invalid: accepted positive integers separated by commas, "
                              "e.g. 96,192,336,720")
    return [int(p) for p in parts]


@benchmark_app.command("exchange")
def exchange(
    data: str = typer.Option(..., "--data", help="exchange_rate.txt(.gz) (Lai et al.) or the LTSF exchange_rate.csv, "
                             "or a folder holding one."),
    horizons: str = typer.Option("96,192,336,720", "--horizons", help="Forecast horizons, comma-separated."),
    lookback: Optional[int] = typer.Option(None, "--lookback", help="Lookback L (default: the validated choice)."),
    d_model: Optional[int] = typer.Option(None, "--d-model", help="Model width (default: the validated choice)."),
    n_layer: Optional[int] = typer.Option(None, "--n-layer", help="S6 blocks (default: the validated choice)."),
    max_epochs: Optional[int] = typer.Option(None, "--max-epochs", help="Most epochs (early stopping on validation)."),
    folds: Optional[int] = typer.Option(None, "--folds", help="Rolling-origin validation folds used at long horizons "
                                        "(default: the benchmark's, 4)."),
    revin: str = typer.Option("auto", "--revin", help="RevIN: auto (chosen on validation), on or off."),
    repeat_only: bool = typer.Option(False, "--repeat-only", help="Score the no-change forecast only; train nothing."),
    out: Optional[str] = typer.Option(None, "--out", help="Also write the markdown table here (JSON beside it)."),
    as_json: bool = JsonOpt,
) -> None:
    """Score Repeat and the Mamba forecaster on Exchange-Rate, beside the published tables.

    Standard protocol: 0.7/0.1/0.2 chronological split, scaler on training rows, all 8 channels,
    MSE/MAE on scaled values over every test window. The model leaves Repeat only for a significant
    validation gain (DM p < 0.05; rolling-origin folds at long horizons); RevIN is chosen on
    validation. Uses the global --seed and --device.

    Example: forecaster --device cpu benchmark exchange --data ../shared/data/exchange_rate.txt.gz --horizons 96
    """
    from pathlib import Path

    from forecaster.benchmarks import exchange as ex
    from forecaster.util.files import atomic_write_text, check_writable, json_text

    if out:  # before hours of work, not after
        check_writable(out)
        check_writable(Path(out).with_suffix(".json"))
    if revin not in ex.REVIN_CHOICES:
        raise ForecasterError(f"--revin {revin!r} is invalid: accepted {', '.join(ex.REVIN_CHOICES)}")
    config = ex.with_overrides(ex.CHOSEN, lookback=lookback, d_model=d_model, n_layer=n_layer, epochs=max_epochs,
                               seed=settings.seed, folds=folds, revin_choices=ex.REVIN_CHOICES[revin])
    result = ex.run_benchmark(data, parse_horizons(horizons), config, settings.device, train=not repeat_only,
                              show_progress=settings.verbosity >= 0)
    table = ex.format_table(result)
    if out:
        atomic_write_text(out, table + "\n")
        atomic_write_text(Path(out).with_suffix(".json"), json_text(result.to_dict()))
        info(f"wrote {out}")
    if as_json:
        emit_json(result.to_dict())
        return
    info(f"Exchange-Rate ({result.rows} rows, {result.data}); device {result.device}; seed {result.seed}; "
         f"{result.seconds:.0f} s")
    typer.echo(table)


@benchmark_app.command("oracle")
def oracle(
    quick: bool = typer.Option(False, "--quick", help="The laptop size: 2 markets, 1 seed, 4,000 days (minutes)."),
    markets: Optional[str] = typer.Option(None, "--markets", help="Simulated markets, comma-separated (default: "
                                          "all; see forecaster.probabilistic.markets.MARKETS)."),
    seeds: Optional[int] = typer.Option(None, "--seeds", help="Draws of each market (seeds F..F+N-1)."),
    first_seed: Optional[int] = typer.Option(None, "--first-seed", help="F, the first draw's seed (default 0; others: fresh draws)."),
    days: Optional[int] = typer.Option(None, "--days", help="Simulated business days per draw."),
    test_years: Optional[float] = typer.Option(None, "--test-years", help="Test period: the last years of each draw."),
    jobs: int = typer.Option(1, "--jobs", help="Worker processes (one market and seed each)."),
    out: Optional[str] = typer.Option(None, "--out", help="Write the JSON result here (the markdown table beside it, .md)."),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON on stdout."),
) -> None:
    """How much of the learnable volatility each model learns, on simulated markets with a known
    conditional distribution: gap closed between historical volatility (0) and the oracle (1), per
    step, pooled over seeds; coverage by volatility tercile; DM on CRPS against GARCH-t (the i.i.d.
    market: against a constant t). The product's own walk-forward, fitted once before the test.

    Example: forecaster benchmark oracle --quick --out reports/oracle-quick.json
    """
    from pathlib import Path

    from forecaster.benchmarks import oracle as ob
    from forecaster.util.files import atomic_write_text, check_writable

    if out:
        check_writable(out)
    config = ob.sized(quick, markets=markets, seeds=seeds, first_seed=first_seed, days=days, test_years=test_years)
    result = ob.run_oracle(config, jobs=jobs, out=out, log=info)
    table = ob.format_table(result)
    if out:
        atomic_write_text(Path(out).with_suffix(".md"), table + "\n")
        info(f"wrote {out}")
    if as_json:
        emit_json(result.to_dict())
        return
    typer.echo(table)
