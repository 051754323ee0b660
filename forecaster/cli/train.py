"""`forecaster train`, `forecaster predict` and `forecaster models`."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from forecaster.cli.app import app, emit_json, info, settings, show
from forecaster.cli.options import (ColumnOpt, CrossPairsOpt, DistributionOpt, EndOpt, GateOpt, JsonOpt, ModelsDirOpt, SeriesOpt,
                                     anchored_family, anchored_given)
from forecaster.configs import (DESIGNS, FEATURES, LOSSES, MISALIGNED_RANGE, WINDOWED, AnchoredConfig, DataConfig, ModelConfig,
                               TrainConfig, refuse_other_design)



@app.command("train")
def train(
    pair: Optional[str] = typer.Argument(None, help="Currency pair, e.g. EURUSD (default EURUSD)."),
    pairs: Optional[str] = typer.Option(None, "--pairs", help="Train ONE global model on several pairs: "
                                        "EURUSD,USDJPY,GBPUSD or a named set (majors); each pair scaled on its own."),
    name: Optional[str] = typer.Option(None, "--name", "-n", help="Model name (default: <pair>-<interval>; "
                                       "with --pairs the set's name, e.g. majors, or the pairs joined by '-')."),
    source: str = typer.Option("ecb", "--source", "-s", help="ecb (offline default), yahoo or csv."),
    interval: str = typer.Option("1d", "--interval", "-i", help="Bar size (ecb: 1d only)."),
    start: Optional[str] = typer.Option(None, "--start", "--from", help="First date of the data, YYYY-MM-DD "
                                        "(under torchrun write --from: torchrun takes --start for its --start-method)."),
    end: Optional[str] = EndOpt,
    path: Optional[str] = typer.Option(None, "--path", help="CSV file (source csv): yfinance, MetaTrader, OHLC, FRED, "
                                       "long or wide table."),
    column: Optional[str] = ColumnOpt,
    csv_series: Optional[str] = SeriesOpt,
    offline: bool = typer.Option(False, "--offline", help="Never touch the network (yahoo: cache only; ecb: no refresh)."),
    lookback: int = typer.Option(DataConfig.lookback, "--lookback", "-L", help="Bars the model sees."),
    horizon: int = typer.Option(DataConfig.horizon, "--horizon", "-H", help="Steps to forecast."),
    features: List[str] = typer.Option(list(DataConfig.features), "--feature", help=f"{', '.join(FEATURES)} (repeat)."),
    covariates: List[str] = typer.Option([], "--covariate", help="Another pair whose returns join the inputs (repeat)."),
    misaligned_range: str = typer.Option(DataConfig.misaligned_range, "--misaligned-range",
                                         help=f"Range features of bars whose high/low look misaligned with the close: "
                                              f"{' | '.join(MISALIGNED_RANGE)} (lag: the previous bar's)."),
    d_model: int = typer.Option(ModelConfig.d_model, "--d-model", help="Model width."),
    n_layer: int = typer.Option(ModelConfig.n_layer, "--n-layer", help="Mamba blocks."),
    d_state: int = typer.Option(ModelConfig.d_state, "--d-state", help="State size N of each channel."),
    design: str = typer.Option(DESIGNS[0], "--design", help=f"{' | '.join(DESIGNS)}: anchored (the default) the "
                               "sequence model EWMA x exp(learnt correction) over long chunks, combined with GARCH-t "
                               "(it reads --horizon, --epochs, --members, --combine and --seed; one pair); windowed the "
                               f"{DataConfig.lookback}-bar window model the other options configure (global models, "
                               "covariates, quantile heads, --resume)."),
    members: int = typer.Option(AnchoredConfig.members, "--members", help="Anchored design: ensemble members (seeds)."),
    cross_pairs: Optional[str] = CrossPairsOpt,
    gate: Optional[float] = GateOpt,
    combine: bool = typer.Option(AnchoredConfig.combine, "--combine/--no-combine",
                                 help="Anchored design: ship the density combination with GARCH-t (else the ensemble alone)."),
    epochs: Optional[int] = typer.Option(None, "--epochs", help=f"Most epochs (early stopping usually ends sooner; "
                                         f"default {TrainConfig.epochs}, anchored {AnchoredConfig.epochs})."),
    batch_size: int = typer.Option(TrainConfig.batch_size, "--batch-size"),
    lr: float = typer.Option(TrainConfig.lr, "--lr", help="Peak learning rate."),
    patience: int = typer.Option(TrainConfig.patience, "--patience", help="Epochs without validation gain before stopping."),
    loss: str = typer.Option(TrainConfig.loss, "--loss", help=f"{' or '.join(LOSSES)} (pinball when --quantiles is given)."),
    quantiles: str = typer.Option("", "--quantiles", help="Quantile heads trained with the pinball loss, e.g. "
                                  "0.025,0.1,0.5,0.9,0.975 (intervals then come from them, conformally calibrated)."),
    threads: int = typer.Option(TrainConfig.threads, "--threads", help="CPU threads for torch (0 = torch's default)."),
    distribution: Optional[str] = DistributionOpt,
    revin: bool = typer.Option(ModelConfig.revin, "--revin/--no-revin",
                               help="Normalise each input window and scale the forecast back by its volatility."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run of the same --name."),
    models_dir: Optional[Path] = ModelsDirOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Train a Mamba forecaster on a pair and save it; prints its validation and test scores beside the baselines'.

    Example: forecaster train EURUSD (the anchored model; forecaster train EURUSD --design windowed: the window model)
    A global model: forecaster train --pairs majors --design windowed (then: forecaster predict USDJPY --model majors)
    (several processes: torchrun --nproc-per-node 2 -m forecaster train EURUSD --design windowed --from 2010-01-01;
    gloo on CPU, nccl on GPU, each process trains on its shard of the windows, only rank 0 writes)
    """
    from forecaster import api
    from forecaster.errors import ForecasterError
    from forecaster.model.device import init_distributed_from_env, is_main_process

    if pair is not None and pairs is not None:
        raise ForecasterError(f"give a pair ({pair}) or --pairs ({pairs}), not both")
    refuse_other_design(design, windowed={
        "--pairs": (pairs, None), "--lookback": (lookback, DataConfig.lookback),
        "--feature": (tuple(features), DataConfig.features), "--covariate": (tuple(covariates), ()),
        "--misaligned-range": (misaligned_range, DataConfig.misaligned_range), "--d-model": (d_model, ModelConfig.d_model),
        "--n-layer": (n_layer, ModelConfig.n_layer), "--d-state": (d_state, ModelConfig.d_state),
        "--batch-size": (batch_size, TrainConfig.batch_size), "--lr": (lr, TrainConfig.lr),
        "--patience": (patience, TrainConfig.patience), "--loss": (loss, TrainConfig.loss), "--quantiles": (quantiles, ""),
        "--revin/--no-revin": (revin, ModelConfig.revin), "--resume": (resume, False),
        "--threads": (threads, TrainConfig.threads)},
        anchored=anchored_given(members, combine, gate, cross_pairs))
    init_distributed_from_env(settings.device)
    windowed = design == WINDOWED
    try:
        trained = api.train(
            pairs if pairs is not None else (pair or "EURUSD"), name=name, source=source, interval=interval, start=start,
            end=end, path=path, column=column, csv_series=csv_series, offline=offline,
            data=DataConfig(lookback=lookback, horizon=horizon, features=tuple(features), covariates=tuple(covariates),
                            misaligned_range=misaligned_range),
            model=ModelConfig(d_model=d_model, n_layer=n_layer, d_state=d_state, quantiles=_quantiles(quantiles),
                              distribution=distribution or ("none" if quantiles else ModelConfig.distribution),
                              revin=revin) if windowed else None,
            train_config=TrainConfig(epochs=TrainConfig.epochs if epochs is None else epochs, batch_size=batch_size,
                                     lr=lr, patience=patience, loss=loss, seed=settings.seed, device=settings.device,
                                     threads=threads) if windowed else None,
            models_dir=models_dir, resume=resume, progress=settings.verbosity >= 0, design=design,
            anchored=None if windowed else AnchoredConfig(members=members, combine=combine, gate=gate, seed=settings.seed,
                                                          family=anchored_family(distribution),
                                                          epochs=AnchoredConfig.epochs if epochs is None else epochs),
            cross_pairs=cross_pairs,
        )
    except KeyboardInterrupt:
        info("training interrupted: the last finished epoch is saved; continue with the same command and --resume")
        raise
    if not is_main_process():
        return
    m = trained.meta["metrics"]
    summary = {"name": trained.name, "path": str(trained.folder), **m}
    if trained.is_global:
        summary["pairs"] = {pair: member["metrics"] for pair, member in trained.meta["members"].items()}
    if as_json:
        emit_json(summary)
        return
    if trained.meta.get("design") == "anchored":
        show(*_anchored_lines(trained))
        return
    gate = m["gate"]
    if trained.is_global:
        data = f"{len(trained.pairs)} pairs, {m['windows']['train']} training windows pooled"
    else:
        fp = trained.meta["fingerprint"]
        data = f"data {fp['pair']} {fp['first'][:10]} .. {fp['last'][:10]} ({fp['rows']} bars)"
    pooled = " (pooled over the pairs)" if trained.is_global else ""
    lines = [f"saved [bold]{trained.name}[/] to {trained.folder} ({m['train_seconds']:.1f}s, best epoch {m['best_epoch']}); "
             f"{data}",
             f"validation MSE (scaled returns){pooled}: model {m['val_mse']:.5f}  random walk {m['val_mse_random_walk']:.5f}"]
    if gate["kept"] == "model":
        lines.append(f"validation: the trained forecast is {gate['text']}; kept")
    else:
        lines.append(f"validation: the trained forecast is {gate['text']}, so the model keeps the no-change forecast "
                     f"as its centre (its spread is kept)")
    if "test_mse" in m:
        lines.append(f"test MSE: model {m['test_mse']:.5f}  random walk {m['test_mse_random_walk']:.5f}  -> "
                     f"{m['test_verdict']['text']}")
        lines += [f"test coverage of the {round(float(level) * 100)}% interval: {c['empirical']:.1%}"
                  for level, c in m["test_coverage"].items()]
    if trained.is_global:
        lines += _member_lines(trained.meta["members"])
    show(*lines)


def _anchored_lines(trained) -> list[str]:
    """An anchored model's report: data, the CRPS of what is shipped beside EWMA's and GARCH-t's on the
    validation and test rows with the verdicts, the weight w and what is shipped."""
    m, fp = trained.meta["metrics"], trained.meta["fingerprint"]
    lines = [f"saved [bold]{trained.name}[/] (anchored design) to {trained.folder} ({m['train_seconds']:.1f}s, "
             f"{len(m['members'])} member{'s' if len(m['members']) != 1 else ''}); data {fp['pair']} {fp['first'][:10]} .. "
             f"{fp['last'][:10]} ({fp['rows']} bars), trained and validated up to {trained.meta['seen_until'][:10]}"]
    if trained.fit.context:
        lines.append(f"cross-pair model: it also reads the volatility of {', '.join(trained.fit.context)} "
                     "(predict loads them again)")
    for split in ("validation", "test"):
        if split not in m:
            lines.append(f"{split}: no origins (the data ends at the training cutoff)")
            continue
        s, c = m[split], m[split]["crps"]
        lines.append(f"{split} CRPS (bp, {s['origins']} origins): shipped {c['shipped'] * 1e4:.3f}  anchored Mamba "
                     f"{c['model'] * 1e4:.3f}  EWMA {c['ewma'] * 1e4:.3f}  GARCH-t {c['garch_t'] * 1e4:.3f}")
        lines.append(f"  the shipped forecast is {s['verdict_garch_t']['text']}; {s['verdict_ewma']['text']}")
    if m["combine"]:
        how = (f"the mean over {m['weight_bags']} bootstrap resamples of the grid weight of least CRPS on the "
               if m["weight_bags"] else "chosen by CRPS on the ")
        lines.append(f"combination weight w = {m['weight']:.3g} on the anchored Mamba ({how}"
                     f"{m['rows']['combination']} validation rows early stopping did not use)")
    if m.get("gate"):
        g = m["gate"]
        lines.append(f"scale gate (DM p < {g['alpha']:g} against GARCH-t on those rows): p = {g['p_better']:.3f}, "
                     + ("the correction is kept" if g["kept"] else f"w = {g['weight_chosen']:.2g} is set to 0"))
    lines.append(f"shipped: {m['shipped']}")
    if "test_coverage" in m:
        lines += [f"test coverage of the {round(float(level) * 100)}% interval: {c['empirical']:.1%}"
                  for level, c in m["test_coverage"].items()]
    return lines


def _member_lines(members: dict) -> list[str]:
    """A global model's pairs, a line each: data, test MSE beside the random walk's, the verdict, coverage."""
    lines = ["per pair (each scaled by its own scalers), on its test split:"]
    for pair, member in members.items():
        fp, m = member["fingerprint"], member["metrics"]
        head = f"  {pair} ({fp['first'][:10]} .. {fp['last'][:10]}): "
        if "test_mse" not in m:
            lines.append(head + "no test windows")
            continue
        cov = " / ".join(f"{c['empirical']:.1%}" for c in m["test_coverage"].values())
        levels = " / ".join(f"{round(float(lv) * 100)}%" for lv in m["test_coverage"])
        lines.append(head + f"MSE model {m['test_mse']:.5f}  random walk {m['test_mse_random_walk']:.5f} -> "
                     f"{m['test_verdict']['text']}; coverage of the {levels} intervals {cov}")
    return lines


def _quantiles(text: str) -> tuple:
    """"0.1,0.5,0.9" -> (0.1, 0.5, 0.9); a clear error for anything else."""
    from forecaster.errors import ForecasterError

    try:
        values = tuple(float(v) for v in text.replace(" ", "").split(",") if v)
    except ValueError:
        values = None
    if values is None or not all(0 < q < 1 for q in values) or len(set(values)) != len(values):
        raise ForecasterError(f"--quantiles {text!r} is invalid: accepted distinct numbers between 0 and 1 separated by "
                              "commas, e.g. 0.025,0.1,0.5,0.9,0.975")
    return values


@app.command("predict")
def predict(
    pair: Optional[str] = typer.Argument(None, help="Pair (default: the one the model was trained on; a global "
                                         "model's needs one of its pairs)."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Name of a saved model (see `forecaster models`; "
                                        "default: PAIR-1d, the name `forecaster train PAIR` saves)."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Write a forecast plot (PNG) here."),
    csv: Optional[Path] = typer.Option(None, "--csv", help="Write the forecast table as CSV here."),
    history: int = typer.Option(120, "--history", help="Bars of history in the plot (1 or more)."),
    source: Optional[str] = typer.Option(None, "--source", "-s", help="Read the data from this source instead of the "
                                         "model's own (checked to be the same series)."),
    path: Optional[str] = typer.Option(None, "--path", help="A newer CSV file of the series the model was trained on "
                                       "(checked: same pair and interval, holding the training range)."),
    column: Optional[str] = ColumnOpt,
    csv_series: Optional[str] = SeriesOpt,
    offline: bool = typer.Option(False, "--offline", help="Never touch the network (yahoo: cache only; ecb: no refresh)."),
    as_of: Optional[str] = typer.Option(None, "--as-of", help="Forecast from the last bar on or before this date "
                                        "(YYYY-MM-DD): what the model would have said then."),
    models_dir: Optional[Path] = ModelsDirOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Forecast the next H steps after the last bar, with 80% and 95% intervals. Says which bar that
    is, and warns when it is more than 3 business days old.

    Example: forecaster predict EURUSD --model eurusd-1d --plot forecast.png
    (a global model: forecaster predict USDJPY --model majors, with USDJPY's own scalers)
    """
    from rich.table import Table

    from forecaster import api
    from forecaster.errors import ForecasterError
    from forecaster.util.files import atomic_write_text, check_writable
    from forecaster.model.plots import plot_forecast
    from forecaster.data.calendar import stale_note
    from forecaster.model.checkpoint import default_model_name

    if history < 1:
        raise ForecasterError(f"--history {history} is invalid: give how many bars of history to plot (1 or more)")
    if model is None:
        if pair is None:
            raise ForecasterError("give a pair or --model NAME: e.g. `forecaster predict EURUSD` uses the model "
                                  "`forecaster train EURUSD` saved (eurusd-1d)")
        model = default_model_name(pair)
    for target in (plot, csv):
        if target is not None:
            check_writable(target)
    trained = api.load(model, models_dir)
    if pair is not None:
        trained = trained.for_pair(pair)  # a global model's member; an error naming the model's pairs otherwise
    elif trained.is_global:
        raise ForecasterError(f"model {model!r} is a global model of {', '.join(trained.pairs)}: say which pair, "
                              f"e.g. forecaster predict {trained.pairs[0]} --model {model}")
    series, covariates = trained.load_series(offline=offline, source=source, path=path, column=column,
                                             series=csv_series)
    info(f"data: {series.description}")
    for note in trained.notes:
        info(f"note: {note}")
    forecast = trained.predict(series, covariates, as_of=as_of)
    if plot:
        plot_forecast(series.close.loc[:forecast.origin].iloc[-history:], forecast, plot)
        info(f"plot written to {plot}")
    if csv:
        atomic_write_text(csv, forecast.to_frame().to_csv())
        info(f"forecast written to {csv}")
    if as_json:
        emit_json(forecast.to_dict())
        return
    table = Table(title=f"{forecast.pair} by {trained.name}, from the last bar used: {forecast.origin.date()}, "
                        f"close {forecast.last_close:.5f}", title_justify="left")
    for col in ("date", "price", "return %", "80% interval", "95% interval"):
        table.add_column(col, justify="right")
    for i, date in enumerate(forecast.dates):
        bands = [forecast.intervals.get(lv) for lv in ("0.8", "0.95")]
        table.add_row(str(date.date()), f"{forecast.prices[i]:.5f}", f"{forecast.returns[i] * 100:+.3f}",
                      *(f"{b['lower'][i]:.5f} .. {b['upper'][i]:.5f}" if b else "-" for b in bands))
    lines = [f"{round(float(level) * 100)}% intervals covered {cov:.1%} of the test split's outcomes"
             for level, cov in forecast.coverage.items()]
    if forecast.risk:
        var = forecast.risk["var_95_1d"]
        lines += [f"forecast volatility (annualised): {forecast.risk['volatility_annual']:.1%}",
                  f"one-bar 95% value at risk: long {var['long']['percent']:.2f}% ({var['long']['pips']:.0f} pips), "
                  f"short {var['short']['percent']:.2f}% ({var['short']['pips']:.0f} pips); from the model's distribution"]
    if forecast.design:
        d = forecast.design
        lines.append(f"anchored model: anchor {d['anchor']}, learnt correction {'on' if d['correction'] else 'off'}, "
                     f"combination with {d['partner']} "
                     f"{'on, w = ' + format(d['weight'], '.3g') if d['combination'] else 'off'}; "
                     f"the forecast is {d['shipped']}; intervals are the distribution's quantiles")
    if forecast.stale:
        lines.insert(0, f"[bold red]{stale_note(forecast.stale)}[/]; `forecaster data update` or a newer --path")
    show(table, *lines)


@app.command("models")
def models(models_dir: Optional[Path] = ModelsDirOpt, as_json: bool = JsonOpt) -> None:
    """List saved models with their pair (a global model's pairs), horizon, date range and validation score.

    Example: forecaster models --json
    """
    from rich.table import Table

    from forecaster import api
    from forecaster.model.checkpoint import default_models_dir

    rows = api.list_models(models_dir)
    if as_json:
        emit_json(rows)
        return
    if not rows:
        show(f"no saved models in {models_dir or default_models_dir()} yet: train one with `forecaster train EURUSD`")
        return
    table = Table(title="saved models", title_justify="left")
    for col in ("name", "pairs", "interval", "H", "data", "val MSE", "random walk"):
        table.add_column(col)
    for r in rows:
        if "error" in r:
            table.add_row(r["name"], f"[red]{r['error']}[/]", "", "", "", "", "")
            continue
        table.add_row(r["name"], ", ".join(r["pairs"]), r["interval"], str(r["horizon"]), f"{r['first'][:10]} .. {r['last'][:10]}",
                      *("-" if r[k] is None else f"{r[k]:.5f}" for k in ("val_mse", "val_mse_random_walk")))
    show(table)
