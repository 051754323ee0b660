"""The six ECB majors, refit yearly (issue 20's real-pair goals): is the shipped model ever worse than
GARCH-t, and are its distributions calibrated across volatility regimes?

Each pair is backtested by the product's own walk-forward (the line-up and run_backtest of
`forecaster backtest`, the default design: the
anchored model, "mamba" as shipped and "mamba_raw" the ensemble alone; the last `test_years`, cut
into `folds` folds with a refit at each) beside EWMA, GJR-GARCH(1,1)-t (the combination's partner alone)
and GARCH(1,1)-t. From the per-origin CRPS (mean over the H steps):

- per pair: each model's CRPS, and one-sided DM tests (forecaster.evaluation.stats.diebold_mariano)
  of mamba, mamba_raw and GJR-t against GARCH-t, Holm-adjusted over the pairs;
- a panel DM over the pairs (stats.panel_diebold_mariano: the cross-sectional mean differential on
  the dates common to all pairs);
- calibration as issued (no online recalibration): the 80% interval's coverage per volatility
  tercile (each pair's own terciles of the volatility known at the origin, scores.trailing_volatility),
  pooled over the pairs, over all steps and at step 1; the high-minus-low spread; and the
  conditional-coverage test (Christoffersen) on the step-1 misses of each tercile, Holm-adjusted
  over the terciles, per model.

With `cross`, also the cross-pair model ("mamba_global", the anchored model with cross_pairs: each
pair's model reads the other pairs' volatility too; "mamba_global_raw" its ensemble alone), every
pair then on the dates all pairs share.

Two runs (two designs on one window) are tested against each other from their saved per-origin CRPS
(save_crps, load_crps, compare_runs; benchmarks/majors_compare.py).
"""

from __future__ import annotations

import math
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Optional

import numpy as np
import pandas as pd

from forecaster.backtest import run_backtest
from forecaster.backtest.lineup import lineup
from forecaster.backtest.neural import AnchoredMambaModel
from forecaster.benchmarks.oracle import GLOBAL_MAMBA as CROSS  # the cross-pair model's name in both benchmarks
from forecaster.configs import PAIR_SETS, AnchoredConfig, BacktestConfig
from forecaster.data import load_series
from forecaster.data.history import on_common_dates
from forecaster.errors import ForecasterError
from forecaster.evaluation.scores import TERCILES, christoffersen, tercile_of
from forecaster.evaluation.stats import diebold_mariano, holm, panel_diebold_mariano

REFERENCE = "garch_t"
PARTNER = "gjr_t"  # the default combination's partner, alone: also tested against the reference
LEVEL = 0.8  # the interval whose calibration is scored


@dataclass
class MajorsConfig:
    pairs: tuple = PAIR_SETS["majors"]
    test_years: float = 3.0
    folds: int = 3  # refits over the test period: yearly over 3 years
    start: Optional[str] = None  # first date of the data (None: all of it)
    end: Optional[str] = None  # last date of the data (None: all of it); an earlier end makes the test years before
    #   it a validation window on which a design can be chosen without looking at the last test years
    anchored: AnchoredConfig = field(default_factory=AnchoredConfig)
    cross: bool = False  # also the cross-pair model

    def models(self) -> tuple:
        """The models scored; those named mamba* and the partner are tested against the reference."""
        return ("mamba", "mamba_raw") + ((CROSS, f"{CROSS}_raw") if self.cross else ()) + ("ewma", PARTNER, REFERENCE)


def _tested(models) -> list:
    return [m for m in models if m.startswith("mamba") or m == PARTNER]


def run_pair(pair: str, config: MajorsConfig) -> dict:
    """One pair's walk-forward: per-origin CRPS (N,) and 80% misses (N, H) of each model, the volatility
    tercile of each origin, the combination weight of each fold."""
    import torch

    torch.set_num_threads(1)
    began = time.perf_counter()
    context = None
    if config.cross:
        panel = on_common_dates({p: load_series(p, source="ecb", start=config.start, end=config.end) for p in config.pairs})
        series, context = panel[pair], {q: s for q, s in panel.items() if q != pair}
    else:
        series = load_series(pair, source="ecb", start=config.start, end=config.end)
    models = lineup(series, anchored=config.anchored)  # the default design, as `forecaster backtest` lines it up
    if config.cross:
        cross = AnchoredMambaModel(replace(config.anchored, horizon=models[0].horizon, cross_pairs=True), name=CROSS)
        models += cross.with_raw()
    result = run_backtest(series, models, BacktestConfig(horizon=models[0].horizon, test_years=config.test_years,
                                                         folds=config.folds, calibration="static"), context=context)
    index = result.dates[result.origins]  # (N,) origin dates: the panel aligns the pairs on them
    tercile = tercile_of(result.regime)  # (N,) each pair's own terciles; -1: unknown
    out = {"pair": pair, "index": index, "tercile": tercile, "origins": int(len(result.origins)),
           "weights": {m: [f["weight"] for f in log] for m, log in result.info["fit_log"].items()
                       if "weight" in log[0]},  # anchored model -> its combination weight w per fold
           "partners": {m: [f["partner"] for f in log] for m, log in result.info["fit_log"].items()
                        if "partner" in log[0]},  # and its partner's name per fold
           "partner_notes": {m: [f["partner_note"] for f in log] for m, log in result.info["fit_log"].items()
                             if "partner" in log[0]},  # why a candidate partner could not be fitted (None: it could)
           "crps": {}, "miss": {}, "horizon": result.actual.shape[1]}
    for m in config.models():
        d = result.distributions[m]
        out["crps"][m] = d.crps(result.actual).mean(1)
        lo, hi = d.interval(LEVEL)
        out["miss"][m] = (result.actual < lo) | (result.actual > hi)
    out["seconds"] = time.perf_counter() - began
    return out


def summarize(parts: list) -> dict:
    """Per pair, the panel and the pooled calibration (see the module docstring) from run_pair's results."""
    h = parts[0]["horizon"]
    models = list(parts[0]["crps"])
    tested = _tested(models)
    pairs = {}
    for p in parts:
        row = {"origins": p["origins"], "weights": p["weights"], "partners": p.get("partners", {}),
               "partner_notes": p.get("partner_notes", {}), "crps_bp": {m: float(p["crps"][m].mean() * 1e4) for m in models}}
        for m in tested:
            dm = diebold_mariano(p["crps"][m], p["crps"][REFERENCE], h)
            row[f"{m}_p_worse"], row[f"{m}_p_better"] = dm["dm_p_worse"], dm["dm_p"]
        pairs[p["pair"]] = row
    for m in tested:
        for side in ("worse", "better"):
            adjusted = holm([pairs[k][f"{m}_p_{side}"] for k in pairs])
            for k, q in zip(pairs, adjusted):
                pairs[k][f"{m}_p_{side}_holm"] = float(q)
    panel = {}
    for m in tested:
        dm = panel_diebold_mariano({p["pair"]: pd.Series(p["crps"][m], index=p["index"]) for p in parts},
                                   {p["pair"]: pd.Series(p["crps"][REFERENCE], index=p["index"]) for p in parts}, h)
        ref = np.mean([p["crps"][REFERENCE].mean() for p in parts])
        panel[m] = {"n_dates": dm["n"], "mean_diff_pct": 100 * dm["mean_diff"] / ref, "p_worse": dm["dm_p_worse"],
                    "p_better": dm["dm_p"]}
    calibration = {}
    tercile = np.concatenate([p["tercile"] for p in parts])
    for m in models:
        miss = np.concatenate([p["miss"][m] for p in parts])  # (sum N, H), pairs one after another in time order
        rows = {}
        for t, name in enumerate(TERCILES):
            sel = tercile == t
            rows[name] = {"n": int(sel.sum()), "coverage": float(1 - miss[sel].mean()),
                          "coverage_step1": float(1 - miss[sel, 0].mean()),
                          "p_cc": christoffersen(miss[sel, 0], 1 - LEVEL)["p_cc"]}
        for name, q in zip(TERCILES, holm([rows[n]["p_cc"] for n in TERCILES])):
            rows[name]["p_cc_holm"] = float(q)
        calibration[m] = {"terciles": rows, "spread": rows[TERCILES[-1]]["coverage"] - rows[TERCILES[0]]["coverage"],
                          "spread_step1": rows[TERCILES[-1]]["coverage_step1"] - rows[TERCILES[0]]["coverage_step1"]}
    return {"pairs": pairs, "panel": panel, "calibration": calibration}


def run_majors(config: MajorsConfig = MajorsConfig(), jobs: int = 1) -> tuple[list, dict]:
    """Every pair (in `jobs` processes), then summarize."""
    if jobs > 1:
        import multiprocessing

        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            parts = list(pool.map(run_pair, config.pairs, [config] * len(config.pairs)))
    else:
        parts = [run_pair(p, config) for p in config.pairs]
    return parts, summarize(parts)


def save_crps(parts: list, path) -> None:
    """Each pair's per-origin CRPS of every model and its origin dates, to an .npz: what compare_runs needs to
    test two runs (two designs) against each other on the same origins."""
    arrays = {"horizon": np.array(parts[0]["horizon"])}
    for p in parts:
        arrays[f"{p['pair']}:index"] = pd.DatetimeIndex(p["index"]).asi8
        arrays.update({f"{p['pair']}:{m}": np.asarray(c) for m, c in p["crps"].items()})
    np.savez_compressed(path, **arrays)


def load_crps(path) -> tuple[dict, int]:
    """save_crps's file -> ({pair: {model: pd.Series of per-origin CRPS by origin date}}, horizon)."""
    with np.load(path) as f:
        keys = {k: f[k] for k in f.files}
    out = {}
    for key in keys:
        pair, _, model = key.partition(":")
        if model and model != "index":
            index = pd.DatetimeIndex(keys[f"{pair}:index"])
            out.setdefault(pair, {})[model] = pd.Series(keys[key], index=index)
    return out, int(keys["horizon"])


def compare_runs(a: dict, b: dict, h: int, model: str = "mamba", model_b: Optional[str] = None) -> dict:
    """Run a's `model` against run b's `model_b` (default the same name), each pair on the origin dates both
    runs share (load_crps's dicts): per pair the CRPS change in % of b's and one-sided DM p-values
    (Holm-adjusted over the pairs), and the panel DM over the pairs."""
    model_b = model_b or model
    pairs = [p for p in a if p in b and model in a[p] and model_b in b[p]]
    if not pairs:
        raise ForecasterError(f"the two runs share no pair holding {model!r} / {model_b!r}")
    rows, base = {}, []
    for p in pairs:
        x, y = a[p][model].align(b[p][model_b], join="inner")
        x, y = x[x.notna() & y.notna()], y[x.notna() & y.notna()]  # (n,) each, on the dates both scored
        dm = diebold_mariano(x.to_numpy(), y.to_numpy(), h)
        rows[p] = {"n": int(len(x)), "mean_diff_pct": 100 * float((x - y).mean() / y.mean()),
                   "p_worse": dm["dm_p_worse"], "p_better": dm["dm_p"]}
        base.append(y.mean())
    for side in ("worse", "better"):
        for p, q in zip(pairs, holm([rows[p][f"p_{side}"] for p in pairs])):
            rows[p][f"p_{side}_holm"] = float(q)
    dm = panel_diebold_mariano({p: a[p][model] for p in pairs}, {p: b[p][model_b] for p in pairs}, h)
    return {"pairs": rows, "panel": {"n_dates": dm["n"], "mean_diff_pct": 100 * dm["mean_diff"] / np.mean(base),
                                     "p_worse": dm["dm_p_worse"], "p_better": dm["dm_p"]}}


def _p(x: float) -> str:
    return "–" if not math.isfinite(x) else ("< 0.001" if x < 0.001 else f"{x:.3f}")


def format_tables(summary: dict) -> str:
    """Markdown: the per-pair table, the panel DM and the pooled calibration."""
    models = list(next(iter(summary["pairs"].values()))["crps_bp"])
    tested = _tested(models)
    lines = [f"| pair | CRPS bp: {' / '.join(models)} | w per fold (mamba; the others named) | "
             + " | ".join(f"{m} vs GARCH-t: p worse (Holm) / p better" for m in tested) + " |",
             "|---|---|---|" + "---|" * len(tested)]
    for pair, r in summary["pairs"].items():
        c = r["crps_bp"]
        lines.append(f"| {pair} | {' / '.join(f'{c[m]:.3f}' for m in models)} | "
                     + "; ".join(("" if m == "mamba" else f"{m} ") + "/".join(f"{w:.1f}" for w in ws)
                                 for m, ws in r["weights"].items())
                     + "".join(f" | {_p(r[f'{m}_p_worse'])} ({_p(r[f'{m}_p_worse_holm'])}) / {_p(r[f'{m}_p_better'])}"
                               for m in tested) + " |")
    lines += ["", "Panel DM over the pairs (the mean CRPS differential on the common dates, against GARCH-t):", ""]
    for m, d in summary["panel"].items():
        lines.append(f"- {m}: {d['mean_diff_pct']:+.3f}% of GARCH-t's CRPS over {d['n_dates']} dates; p worse "
                     f"{_p(d['p_worse'])}, p better {_p(d['p_better'])}")
    lines += ["", f"Calibration as issued: {round(LEVEL * 100)}% coverage by volatility tercile (low / mid / high), "
              "pooled over the pairs, all steps (step 1); high - low spread; conditional-coverage p at step 1 "
              "(Holm over the terciles):", "",
              "| model | low | mid | high | spread (step 1) | CC p low / mid / high (Holm) |", "|---|---|---|---|---|---|"]
    for m, c in summary["calibration"].items():
        t = c["terciles"]
        lines.append(f"| {m} | " + " | ".join(f"{t[n]['coverage']:.3f} ({t[n]['coverage_step1']:.3f})" for n in TERCILES)
                     + f" | {c['spread']:+.3f} ({c['spread_step1']:+.3f}) | "
                     + " / ".join(f"{_p(t[n]['p_cc'])} ({_p(t[n]['p_cc_holm'])})" for n in TERCILES) + " |")
    return "\n".join(lines)
