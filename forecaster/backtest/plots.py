"""PNG plots of a backtest (matplotlib, Agg backend), drawn so that a glance does not mislead:

    equity.png             equity curves of every model, baseline and buy-and-hold, drawdown panel below;
                           each legend entry carries its total return and its Diebold-Mariano p-value
                           against the random walk (a steep line with p = 0.4 is luck, and says so)
    error_by_horizon.png   RMSE on prices per horizon step, and Theil's U2 per step on an axis that always
                           spans at least U2_SPAN around the random walk's line at 1 (noise stays small),
                           with a note when no model beats the random walk significantly
    forecast_vs_actual.png the actual close over the last SHOWN origins beside each model's step-1 and
                           step-H forecasts at their target dates (with the widest interval, if any); all
                           panels share one y-scale so that they compare at a glance
    pit_histogram.png      step-1 PIT histogram of every forecast distribution (flat = calibrated)
    coverage_by_tercile.png  coverage of the 80% and 95% intervals in each volatility tercile, as the
                           distributions give them and after online calibration (ACI), nominal dashed
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from forecaster.backtest.trading import drawdown
from forecaster.backtest.walkforward import BacktestResult
from forecaster.configs import ALPHA
from forecaster.util.plotting import pyplot, save_figure

SHOWN = 150  # origins drawn in forecast_vs_actual.png
U2_SPAN = 0.1  # the U2 axis spans at least 1 - U2_SPAN .. 1 + U2_SPAN


def write_plots(result: BacktestResult, out: Path) -> dict:
    out = Path(out)
    paths = {"equity_plot": out / "equity.png", "error_plot": out / "error_by_horizon.png",
             "forecast_plot": out / "forecast_vs_actual.png"}
    save_figure(equity_figure(result), paths["equity_plot"])
    save_figure(error_figure(result), paths["error_plot"])
    save_figure(forecast_figure(result), paths["forecast_plot"])
    if result.prob_stats.get("models"):
        paths["pit_plot"] = plot_pit(result.pair, result.prob_stats, out / "pit_histogram.png")
    if result.prob_stats.get("models") or result.calibration_stats:
        paths["coverage_plot"] = plot_coverage_by_tercile(result.pair, result.prob_stats, result.calibration_stats,
                                                          out / "coverage_by_tercile.png")
    return paths


def _dm_p(result: BacktestResult, name: str) -> float:
    stats = result.forecast_stats.get(name)
    return float(stats["overall"].get("dm_p", np.nan)) if stats else np.nan


def equity_label(result: BacktestResult, name: str, equity) -> str:
    """'model: +28.5%, DM p 0.40 (not significant)': the return beside the evidence for it."""
    label = f"{name}: {float(equity[-1]) - 1:+.1%}"
    if name in ("buy_and_hold", "random_walk") or name not in result.forecast_stats:
        return label
    p = _dm_p(result, name)
    if not np.isfinite(p):
        return label + ", DM p n/a"
    return label + f", DM p {p:.2f}" + ("" if p < ALPHA else " (not significant)")


def _flat_centres(result: BacktestResult) -> list[str]:
    """Models with a forecast distribution whose point forecast is the random walk's (they never trade)."""
    return [n for n in result.risk_simulations if n in result.forecasts and np.all(result.forecasts[n] == 0)
            and n not in ("random_walk",) and not n.startswith(("hist_vol", "ewma", "garch"))]


def equity_figure(result: BacktestResult):
    """Equity and drawdown of every model's signal. When a Mamba model's centre is the random walk's
    (it never trades), the picture shows what its distribution is for instead: a long position sized
    to the risk target by it, beside the same sized by EWMA and GARCH-t, and buy-and-hold."""
    dates = result.dates[result.origins + 1]  # equity after bar t -> t+1
    fig, (top, bottom) = pyplot().subplots(2, 1, figsize=(11, 7), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    flat = _flat_centres(result)
    if flat:
        sized = [n for n in flat + ["ewma", "garch_t"] if n in result.risk_simulations]
        curves = {"buy_and_hold": result.simulations["buy_and_hold"],
                  **{f"{n} sized": result.risk_simulations[n] for n in sized}}
        title = (f"{result.pair}: a long position sized to {result.config.risk_target:.0%} volatility by each forecast "
                 f"distribution (the centre of {', '.join(flat)} is the random walk's)")
    else:
        curves, title = result.simulations, f"{result.pair}: equity after costs"
    for name, sim in curves.items():
        style = {"color": "black", "linewidth": 1.6} if name == "buy_and_hold" else {"linewidth": 1.1}
        label = equity_label(result, name, sim.equity)
        if name.endswith(" sized"):
            st = result.risk_sizing_stats[name[: -len(" sized")]]
            label = f"{name}: {float(sim.equity[-1]) - 1:+.1%}, realised vol {st['volatility']:.1%}"
        top.plot(dates, sim.equity, label=label, **style)
        dd, _, _ = drawdown(sim.equity)
        bottom.plot(dates, dd * 100, **style)
    top.set_ylabel("equity (start 1)")
    top.set_title(f"{title} (spread {result.config.costs.spread_pips} pips; swap not modelled)", fontsize=9)
    top.legend(fontsize=8, ncol=3)
    top.grid(alpha=0.3)
    bottom.set_ylabel("drawdown %")
    bottom.grid(alpha=0.3)
    fig.text(0.01, 0.005, "DM p: Diebold-Mariano test of the forecasts against the random walk's (one-sided; "
             f"below {ALPHA} = significantly better)", fontsize=7, color="0.35")
    return fig


def error_figure(result: BacktestResult):
    fig, (left, right) = pyplot().subplots(1, 2, figsize=(11, 4))
    for name, st in result.forecast_stats.items():
        steps = [row["step"] for row in st["per_step"]]
        left.plot(steps, [row["rmse"] for row in st["per_step"]], marker="o", label=name)
        right.plot(steps, [row["theil_u2"] for row in st["per_step"]], marker="o", label=name)
    left.set_xlabel("horizon step")
    left.set_ylabel("RMSE (price)")
    right.set_xlabel("horizon step")
    right.set_ylabel("Theil's U2 (1 = random walk)")
    right.axhline(1.0, color="black", linewidth=1.2, linestyle="--", label="random walk")
    u2 = np.array([row["theil_u2"] for st in result.forecast_stats.values() for row in st["per_step"]], dtype=float)
    u2 = u2[np.isfinite(u2)]
    low, high = min([1 - U2_SPAN, *u2]), max([1 + U2_SPAN, *u2])
    pad = 0.05 * (high - low)
    right.set_ylim(low - pad, high + pad)
    left.legend(fontsize=8)
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.set_xticks(range(1, result.config.horizon + 1))
    winners = [n for n in result.forecast_stats if n != "random_walk" and _dm_p(result, n) < ALPHA]
    note = (f"significantly better than the random walk (DM p < {ALPHA}): {', '.join(winners)}" if winners else
            f"no model beats the random walk significantly (every DM p >= {ALPHA}): the differences are noise")
    fig.suptitle(f"{result.pair}: forecast error by horizon step\n{note}", fontsize=10)
    fig.tight_layout()
    return fig


def forecast_figure(result: BacktestResult):
    H = result.config.horizon
    models = [m for m in result.forecasts if m != "random_walk"] or list(result.forecasts)
    fig, axes = pyplot().subplots(len(models), 1, figsize=(11, 2.6 * len(models)), sharex=True, sharey=True,
                                  squeeze=False)  # one y-scale: panels compare at a glance
    keep = slice(max(0, len(result.origins) - SHOWN), None)  # the newest origins, so that lines stay legible
    origins = result.origins[keep]
    last = result.close[origins]
    for ax, name in zip(axes[:, 0], models):
        lo_row, hi_row = origins[0], origins[-1] + H
        ax.plot(result.dates[lo_row : hi_row + 1], result.close[lo_row : hi_row + 1], color="black", linewidth=1,
                label="actual")
        for step in sorted({1, H}):
            target = result.dates[origins + step]
            ax.plot(target, last * np.exp(result.forecasts[name][keep, step - 1]), linewidth=0.9, label=f"step {step}")
        bands = result.intervals.get(name, {})
        if bands:
            level = max(bands, key=float)
            lo, hi = bands[level]
            ax.fill_between(result.dates[origins + H], last * np.exp(lo[keep, H - 1]), last * np.exp(hi[keep, H - 1]),
                            alpha=0.2, label=f"{round(float(level) * 100)}% interval, step {H}")
        ax.set_title(name, fontsize=9)
        ax.legend(fontsize=7, loc="upper left")
        ax.grid(alpha=0.3)
    fig.suptitle(f"{result.pair}: forecast against actual (the last {len(origins)} origins)")
    return fig


def plot_pit(pair: str, prob: dict, path: Path) -> Path:
    """One panel per model: the step-1 PIT histogram as densities, the uniform density 1 dashed."""
    models = prob["models"]
    cols = min(3, len(models))
    rows = -(-len(models) // cols)
    fig, axes = pyplot().subplots(rows, cols, figsize=(3.8 * cols, 2.8 * rows), squeeze=False, sharey=True)
    for ax, (name, st) in zip(axes.ravel(), models.items()):
        counts = np.asarray(st["pit"]["counts"], dtype=np.float64)
        bins = len(counts)
        density = counts * bins / max(counts.sum(), 1.0)
        ax.bar((np.arange(bins) + 0.5) / bins, density, width=1.0 / bins, edgecolor="white")
        ax.axhline(1.0, color="black", linestyle="--", linewidth=0.8)
        p = st["pit"].get("p_value")
        ax.set_title(f"{name} (uniformity p = {p:.3f})" if p is not None and np.isfinite(p) else name, fontsize=9)
        ax.set_xlim(0, 1)
        ax.grid(alpha=0.3)
    for ax in axes.ravel()[len(models):]:
        ax.axis("off")
    fig.suptitle(f"{pair}: step-1 PIT histograms (flat at 1 = calibrated; U: too narrow, hump: too wide)")
    fig.tight_layout()
    return save_figure(fig, path)


def plot_coverage_by_tercile(pair: str, prob: dict, intervals: dict, path: Path) -> Path:
    """Coverage per volatility tercile (low, mid, high) of each model, at 80% (left) and 95% (right):
    solid bars the forecast distribution's own intervals, hatched bars the intervals after ACI."""
    from forecaster.evaluation.scores import TERCILES

    series = {}  # label -> {"80": [low, mid, high], "95": [...]}
    for name, st in prob.get("models", {}).items():
        series[name] = {k: [r["coverage"] for r in v] for k, v in st["coverage_by_volatility"].items()}
    for name, st in intervals.items():
        if "aci" in st:
            series[f"{name} (ACI)"] = {str(round(float(lv) * 100)): [r["coverage"] for r in v["by_volatility"]]
                                       for lv, v in st["aci"].items()}
    fig, axes = pyplot().subplots(1, 2, figsize=(12, 4.2), sharey=False)
    width = 0.8 / max(len(series), 1)
    colours = {}
    for ax, pct in zip(axes, ("80", "95")):
        for k, (label, cov) in enumerate(series.items()):
            values = np.asarray([np.nan if c is None else c for c in cov.get(pct, [np.nan] * 3)], dtype=np.float64)
            base = label.replace(" (ACI)", "")
            colour = colours.setdefault(base, f"C{len(colours) % 10}")
            ax.bar(np.arange(3) + (k - (len(series) - 1) / 2) * width, values * 100, width=width, color=colour,
                   hatch="//" if label.endswith("(ACI)") else None, edgecolor="white", label=label)
        ax.axhline(int(pct), color="black", linestyle="--", linewidth=0.9)
        ax.set_xticks(range(3))
        ax.set_xticklabels([f"{t} volatility" for t in TERCILES])
        ax.set_ylabel("coverage %")
        ax.set_title(f"{pct}% intervals (nominal dashed)", fontsize=10)
        ax.set_ylim(max(0, int(pct) - 30), 100)
        ax.grid(alpha=0.3, axis="y")
    axes[1].legend(fontsize=7, ncol=2, loc="lower right")
    fig.suptitle(f"{pair}: coverage by tercile of the volatility known at the origin")
    fig.tight_layout()
    return save_figure(fig, path)
