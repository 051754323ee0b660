"""The backtest report: metrics JSON, a CSV of every forecast beside its actual, terminal tables.

    <out>/metrics.json     configuration, data, notes, forecast statistics (overall and per step),
                           trading statistics of every model, the baselines and buy-and-hold, the
                           verdict of each model against the random walk and the SPA test over all
    <out>/forecasts.csv    model, fold, origin, step, target date, forecast and actual (log return
                           and price), interval bounds where the model gives them
    <out>/tables.md        the terminal tables as Markdown
Beside the point forecasts: the forecast distributions' proper scores and calibration (metrics.json
"probabilistic", from backtest/scores.py), a sentence per model and risk baseline on CRPS that
claims a difference only with a one-sided DM p < 0.05 ("probabilistic_verdicts"), every model's
intervals as issued and after online calibration ("intervals"), and the volatility-targeted trading
simulation ("trading_vol_target"). The probabilistic tables are built from the metrics dict alone,
so they can be re-made from a saved metrics.json (markdown_prob_tables).
    <out>/*.png            see plots.py
All files are written atomically (temp file, then rename).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from forecaster.configs import ANCHORED
from forecaster.backtest.walkforward import BacktestResult
from forecaster.util.files import atomic_write, atomic_write_text, json_safe, json_text
from forecaster.evaluation.verdicts import ALPHA, spa_sentence, verdict_vs_random_walk, verdict_word
from forecaster.probabilistic.risk import default_risk_models

RISK_MODELS = tuple(m.name for m in default_risk_models(1))  # the risk models' names, in the line-up's order


def metrics(result: BacktestResult) -> dict:
    return json_safe({
        "pair": result.pair,
        "config": result.config.to_dict(),
        "data": result.info,
        "forecast": result.forecast_stats,
        "trading": result.trading_stats,
        "verdicts": verdicts(result),
        "multiple_comparisons": result.spa,
        "probabilistic": result.prob_stats,
        "probabilistic_verdicts": prob_verdicts(result.prob_stats),
        "intervals": result.calibration_stats,
        "trading_vol_target": result.vol_trading_stats,
        "risk_sizing": result.risk_sizing_stats,
        "summary": summary_lines(result),
    })


def verdicts(result: BacktestResult) -> dict:
    """{model: the sentence against the random walk} from the overall DM test on the test origins
    (the per-origin squared price error averaged over the H steps); the random walk itself is left out."""
    same = set(result.spa.get("identical_to_benchmark", [])) | {"random_walk"}
    return {name: verdict_vs_random_walk(st["overall"].get("dm_p", math.nan), st["overall"].get("dm_p_worse", math.nan),
                                         st["n_origins"], "test")
            for name, st in result.forecast_stats.items() if name not in same}


def _pv(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def prob_verdicts(prob: dict, alpha: float = ALPHA) -> dict:
    """{model: {risk model: sentence}} on CRPS, for every scored model that is not a risk model itself,
    e.g. 'CRPS lower than ewma's (DM p = 0.012, one-sided, n = 780 test origins)'; 'indistinguishable'
    unless a one-sided DM p < alpha (overall CRPS per origin, averaged over the steps; evaluation.stats.diebold_mariano)."""
    models = prob.get("models", {}) if prob else {}
    n = prob.get("settings", {}).get("n_origins", 0) if prob else 0
    out = {}
    for name, st in models.items():
        if name in RISK_MODELS:
            continue
        lines = {}
        for ref in RISK_MODELS:
            dm = st["dm_crps"].get(ref, {}).get("overall")
            if dm is None:
                continue
            p_b, p_w = dm["p_better"], dm["p_worse"]
            p_b, p_w = (math.nan if v is None else v for v in (p_b, p_w))
            word = verdict_word(p_b, p_w, alpha)
            own, theirs = st["overall"]["crps"], models[ref]["overall"]["crps"]
            if word == "better":
                text = f"CRPS lower than {ref}'s (DM {_pv(p_b)}, one-sided"
            elif word == "worse":
                text = f"CRPS higher than {ref}'s (DM {_pv(p_w)}, one-sided"
            elif math.isnan(p_b) or math.isnan(p_w):
                text = f"CRPS indistinguishable from {ref}'s (no difference to test"
            else:
                text = (f"CRPS indistinguishable from {ref}'s ({own * 1e4:.3f} vs {theirs * 1e4:.3f} bp, "
                        f"DM {_pv(min(1.0, 2 * min(p_b, p_w)))}, two-sided")
            lines[ref] = text + f", n = {n} test origins)"
        if lines:
            out[name] = lines
    return out


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


def trading_table_rows(result: BacktestResult, vol_target: bool = False) -> list[list[str]]:
    table = result.vol_trading_stats if vol_target else result.trading_stats
    return [[name] + [_fmt(st.get(key), spec) for _, key, spec in TRADING_COLUMNS] for name, st in table.items()]


# ----------------------------------------------------------------------------- probabilistic tables (from the metrics dict)

def _bp(value) -> str:
    return _fmt(None if value is None else value * 1e4, ".3f")


def _pct(value) -> str:
    return _fmt(None if value is None else value * 100, ".1f")


def _refs(prob: dict) -> list[str]:
    return [r for r in RISK_MODELS if r in prob.get("models", {})]


def prob_score_header(prob: dict) -> list[str]:
    return (["model", "CRPS bp", "pinball bp", "IS80 bp", "IS95 bp", "cov80 %", "cov95 %"]
            + [f"DM p vs {r}" for r in _refs(prob)])


def prob_score_rows(prob: dict) -> list[list[str]]:
    """Per model: CRPS, mean pinball, interval scores (all in basis points of log return, averaged over
    origins and steps), coverage, and the one-sided DM p-value 'lower CRPS than' each risk model."""
    rows = []
    for name, st in prob.get("models", {}).items():
        o = st["overall"]
        dms = [_fmt(st["dm_crps"].get(r, {}).get("overall", {}).get("p_better"), ".3f") if r != name else "-"
               for r in _refs(prob)]
        rows.append([name, _bp(o["crps"]), _bp(o["pinball"]), _bp(o.get("interval_score_80")),
                     _bp(o.get("interval_score_95")), _pct(o.get("coverage_80")), _pct(o.get("coverage_95"))] + dms)
    return rows


CALIBRATION_HEADER = ["model", "cov80 low/mid/high %", "cov95 low/mid/high %", "long VaR95 exc. %", "long Kupiec p",
                      "long Christ. p", "short VaR95 exc. %", "short Kupiec p", "short Christ. p", "PIT p (step 1)"]


def _terciles(rows: list) -> str:
    return "/".join(_pct(r.get("coverage")) for r in rows)


def prob_calibration_rows(prob: dict) -> list[list[str]]:
    """Per model: coverage by volatility tercile, the step-1 95% VaR exceedance rate with Kupiec's and
    Christoffersen's (independence) p-values for both tails, and the PIT uniformity p-value of step 1."""
    rows = []
    for name, st in prob.get("models", {}).items():
        cv, var = st["coverage_by_volatility"], st["var"]
        row = [name, _terciles(cv.get("80", [])), _terciles(cv.get("95", []))]
        for side in ("long", "short"):
            v = var[side]
            row += [_pct(v.get("rate")), _fmt(v.get("p_pof"), ".3f"), _fmt(v.get("p_ind"), ".3f")]
        rows.append(row + [_fmt(st["pit"].get("p_value"), ".3f")])
    return rows


INTERVAL_HEADER = ["model", "cov80 issued", "cov80 ACI", "cov95 issued", "cov95 ACI", "IS80 issued", "IS80 ACI",
                   "IS95 issued", "IS95 ACI", "cov80 ACI low/mid/high", "cov95 ACI low/mid/high"]


def interval_rows(intervals: dict) -> list[list[str]]:
    """Per model with intervals: coverage (%) and interval score (bp) as issued and after online
    calibration ('-' where the backtest ran with calibration 'static'), and coverage by tercile after."""
    rows = []
    for name, st in intervals.items():
        issued, aci = st.get("issued", {}), st.get("aci", {})

        def get(block, level, key):
            return block.get(level, {}).get(key)

        rows.append([name, _pct(get(issued, "0.8", "coverage")), _pct(get(aci, "0.8", "coverage")),
                     _pct(get(issued, "0.95", "coverage")), _pct(get(aci, "0.95", "coverage")),
                     _bp(get(issued, "0.8", "interval_score")), _bp(get(aci, "0.8", "interval_score")),
                     _bp(get(issued, "0.95", "interval_score")), _bp(get(aci, "0.95", "interval_score")),
                     _terciles(aci.get("0.8", {}).get("by_volatility", [])) or "-",
                     _terciles(aci.get("0.95", {}).get("by_volatility", [])) or "-"])
    return rows


def prob_verdict_lines(prob: dict) -> list[str]:
    return [f"{name} vs {ref}: {text}" for name, refs in prob_verdicts(prob).items() for ref, text in refs.items()]


def prob_tables(m: dict) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) of the probabilistic tables of a metrics dict (metrics() or a metrics.json)."""
    prob, out = m.get("probabilistic") or {}, []
    if prob.get("models"):
        n = prob["settings"]["n_origins"]
        out.append((f"Forecast distributions ({n} origins; scores in bp of log return, lower is better; DM p: "
                    f"one-sided, H1 lower CRPS than the column's model)", prob_score_header(prob), prob_score_rows(prob)))
        out.append(("Calibration (coverage by tercile of the 20-day volatility known at the origin; VaR on step 1)",
                    CALIBRATION_HEADER, prob_calibration_rows(prob)))
    if m.get("intervals"):
        out.append(("Intervals as issued and after online calibration (ACI); coverage %, interval score bp",
                    INTERVAL_HEADER, interval_rows(m["intervals"])))
    return out


def _md(header, rows) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def markdown_prob_tables(m: dict) -> str:
    """The probabilistic tables and verdicts of a metrics dict as Markdown."""
    parts = [f"**{title}**\n\n{_md(header, rows)}" for title, header, rows in prob_tables(m)]
    said = "".join(f"- {line}\n" for line in prob_verdict_lines(m.get("probabilistic") or {}))
    return "\n\n".join(parts) + ("\n\n" + said if said else "")


SUMMARY_WIDTH = 100  # columns of the summary a backtest opens with


def _mamba_models(result: BacktestResult) -> list[str]:
    return [name for name in result.forecasts if name.startswith("mamba")]


def _distribution_lines(prob: dict, name: str) -> list[str]:
    """The distribution's verdict against the best risk model, its calibration and its VaR tests."""
    models = prob.get("models", {})
    st = models.get(name)
    if st is None:
        return []
    risk = [r for r in RISK_MODELS if r in models]
    lines = []
    if risk:
        best = min(risk, key=lambda r: models[r]["overall"]["crps"])
        dm = st["dm_crps"].get(best, {}).get("overall", {})
        p_b, p_w = (math.nan if dm.get(k) is None else dm[k] for k in ("p_better", "p_worse"))
        word = {"better": "lower than", "worse": "higher than", "indistinguishable": "indistinguishable from"}[
            verdict_word(p_b, p_w)]
        p = p_b if word == "lower than" else p_w if word == "higher than" else min(1.0, 2 * min(p_b, p_w))
        if st["overall"]["crps"] == models[best]["overall"]["crps"]:  # e.g. an anchored model whose weight w is 0
            lines.append(f"  distribution: CRPS {_bp(st['overall']['crps'])} bp, identical to the best risk model "
                         f"{best}'s (the same forecast)")
        else:
            lines.append(f"  distribution: CRPS {_bp(st['overall']['crps'])} bp, {word} the best risk model "
                         f"{best}'s {_bp(models[best]['overall']['crps'])} bp (DM {_pv(p)})")
    for level in ("80", "95"):
        cov = st["overall"].get(f"coverage_{level}")
        terc = st.get("coverage_by_volatility", {}).get(level, [])
        if cov is not None:
            by = " / ".join(_pct(r["coverage"]) for r in terc)
            lines.append(f"  {level}% interval: covers {_pct(cov)}%; calm / mid / stormy volatility: {by}%")
    var = st.get("var", {})
    if var:
        sides = ", ".join(f"{side} {v['rate']:.1%} (Kupiec {_pv(v['p_pof'])}, Christoffersen {_pv(v['p_cc'])})"
                          for side, v in var.items())
        lines.append(f"  1-day 95% VaR breaches: {sides}")
    return lines


def _risk_sizing_line(result: BacktestResult, names: list[str]) -> list[str]:
    stats = result.risk_sizing_stats
    shown = [n for n in names + ["ewma", "garch_t"] if n in stats]
    if not shown:
        return []
    parts = [f"{n} {_pct(stats[n]['volatility'])}% (calm {_pct(stats[n]['volatility_by_tercile']['low'])}, "
             f"storm {_pct(stats[n]['volatility_by_tercile']['high'])}; max DD {_pct(stats[n]['max_drawdown'])}%)"
             for n in shown]
    return [f"long sized to {result.config.risk_target:.0%} volatility, realised: " + "; ".join(parts)]


def summary_lines(result: BacktestResult) -> list[str]:
    """What the backtest found, in about 12 lines of at most SUMMARY_WIDTH columns: each Mamba model's
    centre and distribution (verdict against the best risk model, calibration overall and by
    volatility tercile, VaR tests), the risk-sized position beside EWMA's and GARCH-t's, and the SPA
    line over the point models. Every verdict comes from a significance test (evaluation.verdicts)."""
    info = result.info
    lines = [f"{result.pair} ({info['source']} {info['interval']}): {info['origins']} test origins "
             f"{info['test_first_origin'][:10]}..{info['test_last_origin'][:10]}, {info['folds']} fold(s), "
             f"H={result.config.horizon}"]
    said = verdicts(result)
    names = _mamba_models(result)
    for name in names:
        anchored = info.get("model_settings", {}).get(name, {}).get("data", {}).get("design") == ANCHORED
        if anchored:
            lines.append(f"{name}: centre = the no-change forecast (the anchored design forecasts the spread only)")
        elif np.all(result.forecasts[name] == 0):
            lines.append(f"{name}: centre = the no-change forecast (no significant gain on validation)")
        else:
            lines.append(f"{name}: centre {said.get(name, 'identical to the random walk')}")
        lines += _distribution_lines(result.prob_stats, name)
    lines += _risk_sizing_line(result, names)
    if result.spa:
        lines.append("point models: " + spa_sentence(result.spa))
    return [_fit(line) for line in lines]


def _fit(line: str, width: int = SUMMARY_WIDTH) -> str:
    """A summary line within `width` columns (the rest wrapped onto an indented line)."""
    import textwrap

    return "\n".join(textwrap.wrap(line, width, subsequent_indent="    ", break_on_hyphens=False))


RISK_SIZING_HEADER = ["model", "realised vol %", "calm %", "mid %", "stormy %", "Sharpe", "MaxDD %", "Total %"]


def risk_sizing_rows(stats: dict) -> list[list[str]]:
    """One row per model with a distribution: the long position it sized to the risk target."""
    return [[name, _pct(s["volatility"]), *(_pct(s["volatility_by_tercile"][t]) for t in ("low", "mid", "high")),
             _fmt(s["sharpe"], ".2f"), _pct(s["max_drawdown"]), _pct(s["total_return"])] for name, s in stats.items()]


def print_summary(result: BacktestResult, console) -> None:
    for line in summary_lines(result):
        console.print(line, highlight=False, markup=False, soft_wrap=True)


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
    if result.vol_trading_stats:
        table = Table(title=f"Trading sized to {result.config.vol_target:.0%} annualised volatility (cap "
                            f"{result.config.vol_cap:g}; own predictive std, EWMA for point forecasts)",
                      title_justify="left")
        for head in ["model"] + [c[0] for c in TRADING_COLUMNS]:
            table.add_column(head, justify="left" if head == "model" else "right", no_wrap=True)
        for row in trading_table_rows(result, vol_target=True):
            table.add_row(*row)
        _print_wide(console, table)
    if result.risk_sizing_stats:
        table = Table(title=f"A long position sized to {result.config.risk_target:.0%} annualised volatility by each "
                            "forecast distribution (step-1 std; volatility within terciles of the volatility known "
                            "at the origin)", title_justify="left")
        for head in RISK_SIZING_HEADER:
            table.add_column(head, justify="left" if head == "model" else "right")
        for row in risk_sizing_rows(result.risk_sizing_stats):
            table.add_row(*row)
        _print_wide(console, table)
    m = {"probabilistic": result.prob_stats, "intervals": json_safe(result.calibration_stats)}
    for title, header, rows in prob_tables(m):
        table = Table(title=title, title_justify="left")
        for head in header:
            table.add_column(head, justify="left" if head == "model" else "right", no_wrap=True)
        for row in rows:
            table.add_row(*row)
        _print_wide(console, table)
    for line in prob_verdict_lines(result.prob_stats):
        console.print(line, highlight=False, markup=False, soft_wrap=True)


def _print_wide(console, table) -> None:
    """Print within the console's width: cells wrap (rich shrinks and folds the columns) rather than overflow."""
    for column in table.columns:
        column.no_wrap = False
        column.overflow = "fold"
    console.print(table)


def markdown_tables(result: BacktestResult) -> str:
    """The same two tables as Markdown (for BENCHMARKS.md), the verdicts and the SPA line between them."""
    said = "".join(f"- {line}\n" for line in verdict_lines(result))
    text = (_md(["model"] + [c[0] for c in FORECAST_COLUMNS] + ["coverage"], forecast_table_rows(result)) + "\n\n"
            + (said + "\n" if said else "") + _md(["model"] + [c[0] for c in TRADING_COLUMNS], trading_table_rows(result)))
    if result.vol_trading_stats:
        text += (f"\n\n**Trading sized to {result.config.vol_target:.0%} annualised volatility**\n\n"
                 + _md(["model"] + [c[0] for c in TRADING_COLUMNS], trading_table_rows(result, vol_target=True)))
    if result.risk_sizing_stats:
        text += (f"\n\n**A long position sized to {result.config.risk_target:.0%} annualised volatility by each forecast "
                 "distribution**\n\n" + _md(RISK_SIZING_HEADER, risk_sizing_rows(result.risk_sizing_stats)))
    prob = markdown_prob_tables({"probabilistic": result.prob_stats, "intervals": json_safe(result.calibration_stats)})
    return text + ("\n\n" + prob if prob else "") + "\n"
