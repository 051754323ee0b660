"""The design options of the anchored Mamba (issue 20), each run as the product's walk-forward on the
oracle benchmark's simulated markets, on DESIGN seeds (11, 12: not the oracle table's 0-2), so that
the option chosen is not chosen on the draws it is reported on.

Each task: one variant (AnchoredConfig overrides), one market, one seed: simulate 9,000 days, fit once
on the rows before row 6,498 (test: about 2,495 origins), score mamba (the shipped combination),
mamba_raw (the ensemble), EWMA, GARCH-t and hist_vol; the oracle once per market and seed (on the
first variant's origins). The "nll" variant trains on the normal log score instead of the CRPS by
replacing forecaster.model.anchored.anchored_crps inside its worker process (the product has no such
option: it measured worse). Table: gap closed (0 = hist_vol, 1 = oracle) pooled over the seeds, 80%
coverage, DM (per-origin CRPS over the 5 steps) against GARCH-t, min over steps of (gap - EWMA's gap),
the combination weight per seed, each member's best epoch, fit seconds.

    PYTHONPATH=. python benchmarks/anchored_variants.py --jobs 16 --out sweep     # ~5 min on 16 cores
"""
import argparse, json, time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
import numpy as np

from design_data import MARKETS, simulated, train_rows  # benchmarks/design_data.py: the design draws

H = 5
MODELS = ("mamba", "mamba_raw", "ewma", "garch_t", "hist_vol")
VARIANTS = {
    "base": {},  # the default of the day (min_epochs 1 since the third session of 2026-12-01)
    "val30": {"val_frac": 0.30},
    "pat8": {"patience": 8, "epochs": 40},
    "lr1e3": {"lr": 1e-3, "patience": 6, "epochs": 40},
    "nll": {"_loss": "nll"},
    "m8": {"members": 8},
    "d32": {"d_model": 32},
    "val30_pat8_lr1e3": {"val_frac": 0.30, "patience": 8, "epochs": 40, "lr": 1e-3},
    "min3": {"min_epochs": 3},  # each member trained at least 3 epochs (never kept untrained)
    "min6": {"min_epochs": 6},
    "min0": {"min_epochs": 0},  # the default before 2026-12-01 (third session): a member may be kept untrained
    "t": {"family": "student_t"},  # the ensemble a Student-t with GARCH-t's fitted df
    "skip": {"skip": True},  # a linear path from the inputs to g beside the Mamba
    "t_skip": {"family": "student_t", "skip": True},
    "garch_partner": {"partner": "garch_t"},  # bagged w, the combination with GARCH(1,1)-t: the default between the two
    #   changes of the sixth session of 2026-12-01 (its runs called it "bag", then "base")
    "argmin": {"weight_bags": 0, "partner": "garch_t"},  # w the grid point of least CRPS, GARCH(1,1)-t: the fifth
    #   session's default
    "absz": {"abs_z": True, "partner": "garch_t"},  # |z| as an input beside z (run against garch_partner)
    "mblocks": {"member_blocks": True},  # each member stops early on its own block of the latest rows (seventh session)
    "bylik": {"partner": "by_likelihood"},  # FIGARCH-t as the partner where the training likelihood says long memory
    #   (the default since the seventh session of 2026-12-01, which ran it against "base" = gjr_partner then)
    "gjr_partner": {"partner": "gjr_t"},  # GJR-t always: the sixth session's default
    "ema90": {"ema": 0.9},  # each member the moving average of its weights, decay 0.9 a step (eighth session)
    "ema97": {"ema": 0.97},
    "garch_anchor": {"_anchor": "garch"},  # probe: the ensemble anchored on GARCH(1,1)'s variance path (eighth session)
}


def nll(g, yz):
    import torch
    scored = ~torch.isnan(yz)
    y = torch.where(scored, yz, torch.zeros_like(yz))
    l = g + 0.5 * y * y * torch.exp(-2 * g)
    return (l * scored).sum() / scored.sum()


def garch_anchor():
    """The "garch_anchor" probe: an EWMA whose variance path is GARCH(1,1)'s (GARCH-t's fitted omega, alpha,
    beta on the same training rows, filtered from the EWMA's start variance); put in place of the anchored
    model's EWMA, so the ensemble's anchor, inputs and units follow GARCH's one-step variance."""
    from scipy.signal import lfilter

    from forecaster.probabilistic.risk import EWMA, GarchT

    class GarchAnchor(EWMA):
        def fit(self, history):
            super().fit(history)
            garch = GarchT(self.horizon)
            garch.fit(history)
            omega, self.alpha, self.beta = garch.fitted[0] / 1e4, garch.fitted[1], garch.fitted[2]
            self.level = omega / (1.0 - self.beta)

        def variances(self, r):  # sigma^2_{k+1} = omega + alpha r_k^2 + beta sigma^2_k, sigma^2_0 = start_var
            s = lfilter([self.alpha], [1.0, -self.beta], r**2, zi=[self.beta * (self.start_var - self.level)])[0]
            return s + self.level

    return GarchAnchor


def model_task(market_name, seed, variant, days, out):
    import torch
    torch.set_num_threads(1)
    from forecaster.backtest import run_backtest
    from forecaster.backtest.neural import AnchoredMambaModel
    from forecaster.configs import AnchoredConfig, BacktestConfig
    from forecaster.model import anchored
    from forecaster.probabilistic.risk import EWMA, GarchT, HistoricalVol
    over = dict(VARIANTS[variant])
    if over.pop("_loss", None) == "nll":
        anchored.anchored_crps = nll
    if over.pop("_anchor", None) == "garch":
        anchored.EWMA = garch_anchor()
    market, path, series = simulated(market_name, seed, days)
    net = AnchoredMambaModel(AnchoredConfig(horizon=H, seed=1000 * seed, **over))
    models = net.with_raw() + [EWMA(H), GarchT(H), HistoricalVol(H)]
    t0 = time.perf_counter()
    test_row = train_rows(days)
    res = run_backtest(series, models, BacktestConfig(horizon=H, test_start=str(series.frame.index[test_row].date()),
                                                      calibration="static"))
    sec = time.perf_counter() - t0
    arrays = {}
    for m in MODELS:
        d = res.distributions[m]
        arrays[f"crps_{m}"] = d.crps(res.actual)
        lo, hi = d.interval(0.8)
        arrays[f"in80_{m}"] = (res.actual >= lo) & (res.actual <= hi)
    np.savez(Path(out) / f"{variant}__{market_name}__{seed}.npz", origins=res.origins, **arrays)
    log = {"seconds": sec, "weight": net.fit_log[0]["weight"], "members": net.fit_log[0]["members"],
           "val": net.fit_log[0]["val_crps"], "partner": net.fit_log[0]["partner"]}
    (Path(out) / f"{variant}__{market_name}__{seed}.json").write_text(json.dumps(log, default=float))
    return f"{variant} {market_name} {seed} {sec:.0f}s w={log['weight']}"


def oracle_task(market_name, seed, days, out, origins_from):
    from forecaster.probabilistic.oracle import oracle_scores
    market, path, series = simulated(market_name, seed, days)
    z = np.load(origins_from)
    o = oracle_scores(market, path, z["origins"], H, seed=seed, crps_histvol=z["crps_hist_vol"])
    np.save(Path(out) / f"oracle__{market_name}__{seed}.npy", o.crps)
    return f"oracle {market_name} {seed} paths={o.n_paths}"


def table(out, variants, markets, seeds):
    from forecaster.evaluation.stats import diebold_mariano
    from forecaster.probabilistic.oracle import gap_closed
    lines = ["| market | variant | model | gap1 | gap5 | all | cov80 | DM vs GARCH-t (p worse/p better) | min_h(gap-ewma) | w | best epochs | fit s |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for mkt in markets:
        orc = np.concatenate([np.load(Path(out) / f"oracle__{mkt}__{s}.npy") for s in seeds])
        for v in variants:
            files = [Path(out) / f"{v}__{mkt}__{s}.npz" for s in seeds]
            if not all(f.exists() for f in files):
                continue
            runs = [np.load(f) for f in files]
            logs = [json.loads(f.with_suffix(".json").read_text()) for f in files]
            cat = {k: np.concatenate([r[k] for r in runs]) for k in runs[0].files}
            eg = gap_closed(cat["crps_hist_vol"], cat["crps_ewma"], orc)
            for m in (("mamba", "mamba_raw") if v != "base" else ("mamba", "mamba_raw", "ewma", "garch_t")):
                g = gap_closed(cat["crps_hist_vol"], cat[f"crps_{m}"], orc)
                a = gap_closed(cat["crps_hist_vol"], cat[f"crps_{m}"], orc, axis=None)
                if m == "garch_t":
                    dm = "-"
                else:
                    b = diebold_mariano(cat[f"crps_{m}"].mean(1), cat["crps_garch_t"].mean(1), H)
                    w = diebold_mariano(cat["crps_garch_t"].mean(1), cat[f"crps_{m}"].mean(1), H)
                    dm = f"{w['dm_p']:.3f}/{b['dm_p']:.3f}"
                extra = ["/".join(f"{l['weight']:.1f}" for l in logs),
                         ";".join(",".join(str(mm["best_epoch"]) for mm in l["members"]) for l in logs),
                         "/".join(f"{l['seconds']:.0f}" for l in logs)] if m == "mamba" else ["", "", ""]
                lines.append(f"| {mkt} | {v} | {m} | {g[0]:.3f} | {g[-1]:.3f} | {a:.3f} | {cat[f'in80_{m}'].mean():.3f} | {dm} | "
                             f"{np.min(g - eg):+.3f} | " + " | ".join(extra) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--variants", nargs="*", default=list(VARIANTS))
    ap.add_argument("--markets", nargs="*", default=list(MARKETS))
    ap.add_argument("--seeds", nargs="*", type=int, default=[11, 12])
    ap.add_argument("--days", type=int, default=9000)
    ap.add_argument("--jobs", type=int, default=15)
    ap.add_argument("--out", default="sweep")
    ap.add_argument("--table-only", action="store_true")
    a = ap.parse_args()
    Path(a.out).mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    if not a.table_only:
        import multiprocessing
        tasks = [(m, s, v) for v in a.variants for m in a.markets for s in a.seeds]
        # the slow variants first
        tasks.sort(key=lambda t: (t[2] not in ("m8", "d32", "pat8", "lr1e3", "val30_pat8_lr1e3"), t[2]))
        with ProcessPoolExecutor(a.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            futs = [pool.submit(model_task, m, s, v, a.days, a.out) for m, s, v in tasks]
            ofuts = []
            for f in as_completed(futs):
                print(f.result(), f"{time.time()-t0:.0f}s", flush=True)
                # oracle once per market/seed, from the base run's origins
            for m in a.markets:
                for s in a.seeds:
                    ofuts.append(pool.submit(oracle_task, m, s, a.days, a.out, str(Path(a.out) / f"{a.variants[0]}__{m}__{s}.npz")))
            for f in as_completed(ofuts):
                print(f.result(), f"{time.time()-t0:.0f}s", flush=True)
    t = table(a.out, a.variants, a.markets, a.seeds)
    Path(a.out, "table.md").write_text(t)
    print(t)
