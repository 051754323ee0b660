"""The oracle benchmark (issue 19): how much of the learnable volatility each model learns.

On simulated markets whose conditional distribution is known (forecaster.probabilistic.markets),
the product's own walk-forward (forecaster.backtest.run_backtest, retrain_every 0: every model
fitted once before the test) scores every model's forecast distribution, and each model is placed
between historical volatility (0) and the true distribution (1):

    gap closed = (CRPS hist_vol - CRPS model) / (CRPS hist_vol - CRPS oracle)

per step h = 1..H and over all steps (forecaster.probabilistic.oracle.gap_closed), the oracle's CRPS
exact at step 1 and by Monte Carlo beyond (its standard error reported). Several seeds (independent
draws of each market) are pooled by concatenating their origins (the ratio of the mean
differences); the interval is a percentile bootstrap over seeds (resampling whole draws), so with
few seeds it is rough, and with one seed there is none.

Beside it, from the product's scores (forecaster.evaluation.scores.probabilistic_stats on the
pooled origins): CRPS, coverage of the 80% and 95% intervals overall and per tercile of the
volatility known at the origin, and a one-sided DM test on CRPS against the reference model with
its verdict word (forecaster.evaluation.verdicts): GARCH(1,1)-t, or on the i.i.d. market (nothing
to learn, so no gap) a constant-scale t fitted on the training rows (risk.ConstantT); and the same
test against EWMA ("dm_ewma"); the cross-pair model also against the single-pair one ("dm_single").

Models: the Mamba model trained in the walk-forward (the default design, the anchored model:
"mamba", the shipped combination with its partner (GJR-t or FIGARCH-t), and "mamba_raw", the anchored
ensemble alone; plus any named variants, anchored (an AnchoredConfig) or windowed (a (DataConfig,
ModelConfig, TrainConfig) triple)), the backtest's risk models (hist_vol, hist_vol_empirical, EWMA,
GARCH-t, GJR-t), FIGARCH-t (figarch_t: the partner where the likelihood says long memory, alone) and
constant_t. On the
multi-pair factor market every single-pair model is scored on each pair, and, with `pooled`, the
cross-pair Mamba ("mamba_global", the default anchored model with cross_pairs: each pair's model
also reads the other pairs' volatility, averaged as a common context; its ensemble alone beside it
as "mamba_global_raw"), whose walk-forward Histories hold every pair (run_backtest's context). The
factor market's oracle knows the latent factor, which no forecaster sees: there even a perfect
model's gap closed stays below 1.

One task = one market and one seed (simulate, backtest each pair, the oracle); tasks run in `jobs`
worker processes. Each task is seeded by its seed alone (the draw, the Mamba's training seed
offset, the Monte Carlo), so results do not depend on `jobs`.
"""

from __future__ import annotations

import math
import os
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from typing import Callable, Optional, Sequence

import numpy as np

from forecaster.backtest import run_backtest
from forecaster.backtest.neural import AnchoredMambaModel, MambaModel
from forecaster.configs import ANCHORED, BACKTEST_EPOCHS, WINDOWED, AnchoredConfig, BacktestConfig, DataConfig, ModelConfig, TrainConfig
from forecaster.data import PriceSeries
from forecaster.errors import ForecasterError
from forecaster.evaluation.scores import dm_both, probabilistic_stats
from forecaster.evaluation.verdicts import verdict_word
from forecaster.probabilistic import distributions as dist_mod
from forecaster.probabilistic import markets as mk
from forecaster.probabilistic.oracle import gap_closed, oracle_scores
from forecaster.probabilistic.risk import ConstantT, GarchT, default_risk_models
from forecaster.util.files import atomic_write_json

HORIZON = 5  # H: steps scored
ZERO = "hist_vol"  # the model that defines 0 of the gap
REFERENCE = "garch_t"  # the DM reference where there is something to learn
CONTROL = "constant_t"  # the DM reference on the i.i.d. market
EWMA_NAME = "ewma"  # every model is also DM-tested against EWMA
IID = "iid_t"  # the market with nothing to learn: no gap there
DEFAULT_MAMBA = "mamba"
GLOBAL_MAMBA = "mamba_global"
BOOTSTRAPS = 2000  # resamples of the seeds for the gap's interval
INTERVAL = 0.90  # coverage of that interval
LEVELS = ("80", "95")  # the intervals whose coverage is reported

Variant = object  # an AnchoredConfig (the anchored design) or a (DataConfig, ModelConfig, TrainConfig) triple (windowed)


def windowed_variant(horizon: int = HORIZON, epochs: int = BACKTEST_EPOCHS) -> tuple:
    """The windowed Mamba as `forecaster backtest --design windowed` trains it in the folds."""
    return DataConfig(horizon=horizon), ModelConfig(), TrainConfig(epochs=epochs)


def _horizon(variant: Variant) -> int:
    return variant.horizon if isinstance(variant, AnchoredConfig) else variant[0].horizon


@dataclass
class OracleConfig:
    """A size of the benchmark."""

    markets: tuple = tuple(mk.MARKETS)  # names in forecaster.probabilistic.markets.MARKETS
    seeds: int = 3  # draws of each market: seeds first_seed..first_seed+seeds-1
    first_seed: int = 0  # other values: fresh draws (e.g. to check a design choice off the table's draws)
    days: int = 9000  # simulated business days per draw
    test_years: float = 9.0  # the test period: the last test_years of the draw (9 years: about 2,340 origins)
    horizon: int = HORIZON
    pooled: bool = True  # also the cross-pair Mamba on the factor market's pairs
    anchored: AnchoredConfig = field(default_factory=AnchoredConfig)  # the default Mamba (its horizon replaced)
    variants: dict = field(default_factory=dict)  # name -> Variant beside the default

    def __post_init__(self) -> None:
        self.markets = tuple(self.markets)
        unknown = [m for m in self.markets if m not in mk.MARKETS]
        if unknown or not self.markets:
            raise ForecasterError(f"markets {unknown or '()'} unknown: accepted {', '.join(mk.MARKETS)}")
        if not isinstance(self.seeds, int) or self.seeds < 1:
            raise ForecasterError(f"seeds={self.seeds!r} is invalid: accepted an integer >= 1")
        if not isinstance(self.first_seed, int) or self.first_seed < 0:
            raise ForecasterError(f"first_seed={self.first_seed!r} is invalid: accepted an integer >= 0")
        if not isinstance(self.days, int) or self.days < 1000:
            raise ForecasterError(f"days={self.days!r} is invalid: accepted an integer >= 1000")
        self.anchored = replace(self.anchored, horizon=self.horizon)
        for name, variant in self.variants.items():
            shaped = isinstance(variant, AnchoredConfig) or (isinstance(variant, tuple) and len(variant) == 3)
            if name in (DEFAULT_MAMBA, GLOBAL_MAMBA) or name.endswith("_raw") or not shaped \
                    or _horizon(variant) != self.horizon:
                raise ForecasterError(f"variant {name!r}: give a new name (not ending in _raw) and an AnchoredConfig or "
                                      f"(DataConfig, ModelConfig, TrainConfig) with horizon {self.horizon}")

    @property
    def seed_list(self) -> list:
        return list(range(self.first_seed, self.first_seed + self.seeds))

    @property
    def cross_pair(self) -> AnchoredConfig:
        """The cross-pair model on the factor market (with `pooled`): the default one reading the other pairs."""
        return replace(self.anchored, cross_pairs=True)

    def mambas(self) -> dict:
        """name -> Variant: the default model first, then the variants."""
        return {DEFAULT_MAMBA: self.anchored, **self.variants}


QUICK = OracleConfig(markets=("garch_t", IID), seeds=1, days=4000, test_years=4.0)  # a laptop: a few minutes
FULL = OracleConfig()  # every market, 3 seeds, 9,000 days


def sized(quick: bool = False, markets: Optional[str] = None, **fields) -> OracleConfig:
    """QUICK (or FULL) with the fields given overriding it (None keeps the size's); markets comma-separated:
    what the two front ends (benchmarks/oracle.py, `forecaster benchmark oracle`) build from their options."""
    if markets is not None:
        fields["markets"] = tuple(m.strip() for m in markets.split(",") if m.strip())
    return replace(QUICK if quick else FULL, **{k: v for k, v in fields.items() if v is not None})


# ----------------------------------------------------------------------------- one market, one seed

def _series(returns: np.ndarray, pair: str) -> PriceSeries:
    return PriceSeries(frame=mk.price_frame(returns), pair=pair, source="simulated")


def _pair_names(market) -> list[str]:
    return [market.name.upper()] if market.pairs == 1 else [f"{market.name.upper()}{i + 1}" for i in range(market.pairs)]


def _models(config: OracleConfig, seed: int, cross: bool) -> list:
    """Every Mamba (an anchored one with its ensemble beside it as NAME_raw), the cross-pair one when
    `cross`, the risk models, FIGARCH-t (the default combination's other possible partner, alone) and the constant
    t; each Mamba's training seed offset by 1000 x the draw's seed."""
    models = []
    mambas = {**config.mambas(), **({GLOBAL_MAMBA: config.cross_pair} if cross else {})}
    for name, v in mambas.items():
        if isinstance(v, AnchoredConfig):
            net = AnchoredMambaModel(replace(v, seed=v.seed + 1000 * seed), name=name)
            models += net.with_raw()
        else:
            data, net_config, train = v
            models.append(MambaModel(data, net_config, replace(train, seed=train.seed + 1000 * seed), name=name))
    return models + default_risk_models(config.horizon) + [GarchT(config.horizon, long_memory=True), ConstantT(config.horizon)]


def run_task(market_name: str, seed: int, config: OracleConfig) -> dict:
    """Simulate one draw, backtest every model on each of its pairs, score the oracle on the same
    origins. Returns {"market", "seed", "seconds", "pairs": {pair: {"origins", "actual" (N, H),
    "regime" (N,), "dists": model -> Distribution (N, H), "oracle" (N, H), "oracle_se" (H,),
    "n_paths", "first", "last", "fit_log"}}}."""
    import torch

    torch.set_num_threads(1)
    began = time.perf_counter()
    market = mk.MARKETS[market_name]
    path = market.simulate(config.days, seed=seed)
    returns = path.returns if path.returns.ndim == 2 else path.returns[:, None]  # (n, P)
    names = _pair_names(market)
    series = {pair: _series(returns[:, i], pair) for i, pair in enumerate(names)}
    bt = BacktestConfig(horizon=config.horizon, test_years=config.test_years, retrain_every=0, calibration="static")
    cross = config.pooled and len(series) > 1
    out = {}
    for pair, s in series.items():
        context = {q: other for q, other in series.items() if q != pair} if cross else None
        res = run_backtest(s, _models(config, seed, cross), bt, context=context)
        out[pair] = {"origins": res.origins, "actual": res.actual, "regime": res.regime, "dists": res.distributions,
                     "first": res.info["test_first_origin"], "last": res.info["test_last_origin"],
                     "fit_log": {k: v for k, v in res.info["fit_log"].items() if k.startswith(DEFAULT_MAMBA)}}
    origins = out[names[0]]["origins"]
    hv = np.stack([out[p]["dists"][ZERO].crps(out[p]["actual"]) for p in names], axis=-1)  # (N, H, P)
    # the paths are raised until the MC error is a tenth of the gap; the i.i.d. market has no gap to resolve
    gap_to = None if market_name == IID else (hv if market.pairs > 1 else hv[..., 0])
    oracle = oracle_scores(market, path, origins, config.horizon, seed=seed, crps_histvol=gap_to)
    crps = oracle.crps if market.pairs > 1 else oracle.crps[..., None]  # (N, H, P)
    se = oracle.se if market.pairs > 1 else oracle.se[:, None]  # (H, P)
    actual = oracle.actual if market.pairs > 1 else oracle.actual[..., None]
    for i, pair in enumerate(names):
        if not np.allclose(actual[..., i], out[pair]["actual"], rtol=0, atol=1e-12):
            raise ForecasterError(f"{pair}: the oracle's targets differ from the backtest's (timing)")
        out[pair].update(oracle=crps[..., i], oracle_se=se[:, i], n_paths=oracle.n_paths)
    return {"market": market_name, "seed": seed, "pairs": out, "seconds": time.perf_counter() - began}


# ----------------------------------------------------------------------------- pooling over seeds

def _bootstrap_gap(d_model: np.ndarray, d_oracle: np.ndarray, rng: np.random.Generator) -> Optional[list]:
    """Percentile interval of sum d_model / sum d_oracle over seeds resampled with replacement;
    d_* (S, H) per-seed mean CRPS differences to hist_vol. None for one seed."""
    s = len(d_model)
    if s < 2:
        return None
    pick = rng.integers(0, s, size=(BOOTSTRAPS, s))  # (B, S)
    ratio = d_model[pick].sum(1) / d_oracle[pick].sum(1)  # (B, H)
    tail = (1 - INTERVAL) / 2
    return np.quantile(ratio, [tail, 1 - tail], axis=0).T.tolist()  # (H, 2)


def _coverage(stats: dict) -> dict:
    """{level: {"overall", "step1", "by_tercile": {low, mid, high}}} from probabilistic_stats' model entry."""
    out = {}
    for level in LEVELS:
        out[level] = {"overall": stats["overall"][f"coverage_{level}"],
                      "step1": stats["per_step"][0][f"coverage_{level}"],
                      "by_tercile": {row["tercile"]: row["coverage"] for row in stats["coverage_by_volatility"][level]}}
    return out


def _verdict_row(d: dict) -> dict:
    return {"p_better": d["p_better"], "p_worse": d["p_worse"], "verdict": verdict_word(d["p_better"], d["p_worse"])}


def _dm(stats: dict, reference: str) -> Optional[dict]:
    if reference not in stats["dm_crps"]:
        return None  # the reference itself
    dm = stats["dm_crps"][reference]
    return {"against": reference, "overall": _verdict_row(dm["overall"]), "per_step": [_verdict_row(d) for d in dm["per_step"]]}


def _oracle_dm(oracle: np.ndarray, reference: np.ndarray) -> dict:
    """The true distribution's CRPS (N, H) DM-tested against the reference's as every model is: the
    significance a perfect forecaster would reach on these origins (a goal "better than the reference"
    cannot be shown where even it falls short)."""
    horizon = oracle.shape[1]
    return {"overall": _verdict_row(dm_both(oracle.mean(1), reference.mean(1), horizon)),
            "per_step": [_verdict_row(dm_both(oracle[:, h], reference[:, h], h + 1)) for h in range(horizon)]}


def pool_block(market: str, pair: str, parts: Sequence[dict]) -> dict:
    """One market's pair over its seeds (parts: run_task's per-pair entries, in seed order)."""
    names = list(parts[0]["dists"])
    reference = CONTROL if market == IID else REFERENCE
    actual = np.concatenate([p["actual"] for p in parts])  # (S N, H)
    regime = np.concatenate([p["regime"] for p in parts])
    dists = {m: dist_mod.concat([p["dists"][m] for p in parts]) for m in names}
    single = [DEFAULT_MAMBA] if GLOBAL_MAMBA in names else []  # the cross-pair model is also tested against it
    stats = probabilistic_stats(dists, actual, regime=regime, against=[reference, EWMA_NAME] + single)
    crps = {m: [p["dists"][m].crps(p["actual"]) for p in parts] for m in names}  # model -> [(N, H)] per seed
    oracle = [p["oracle"] for p in parts]
    horizon = actual.shape[1]
    oracle_se = np.sqrt(np.sum([np.square(p["oracle_se"]) for p in parts], axis=0)) / len(parts)  # (H,)
    hv_mean = np.array([c.mean(0) for c in crps[ZERO]])  # (S, H)
    d_oracle = hv_mean - np.array([o.mean(0) for o in oracle])  # (S, H)
    rng = np.random.default_rng(0)
    models = {}
    for m in names:
        entry = {"crps": [stats["models"][m]["per_step"][h]["crps"] for h in range(horizon)],
                 "crps_all": stats["models"][m]["overall"]["crps"],
                 "coverage": _coverage(stats["models"][m]), "dm": _dm(stats["models"][m], reference),
                 "dm_ewma": _dm(stats["models"][m], EWMA_NAME)}
        if single and m.startswith(GLOBAL_MAMBA):
            entry["dm_single"] = _dm(stats["models"][m], DEFAULT_MAMBA)
        if market != IID:
            pooled = lambda x: np.concatenate(x)  # noqa: E731
            entry["gap_closed"] = gap_closed(pooled(crps[ZERO]), pooled(crps[m]), pooled(oracle)).tolist()
            entry["gap_closed_all"] = float(gap_closed(pooled(crps[ZERO]), pooled(crps[m]), pooled(oracle), axis=None))
            d_model = hv_mean - np.array([c.mean(0) for c in crps[m]])  # (S, H)
            entry["gap_per_seed"] = (d_model / d_oracle).tolist()  # (S, H)
            entry["gap_interval"] = _bootstrap_gap(d_model, d_oracle, rng)
            all_steps = _bootstrap_gap(d_model.mean(1, keepdims=True), d_oracle.mean(1, keepdims=True), rng)
            entry["gap_interval_all"] = None if all_steps is None else all_steps[0]
        models[m] = entry
    oracle_mean = np.concatenate(oracle).mean(0)
    return {
        "market": market, "pair": pair, "seeds": len(parts), "origins_per_seed": int(len(parts[0]["actual"])),
        "test_first_origin": parts[0]["first"], "test_last_origin": parts[0]["last"], "reference": reference,
        "oracle": {"crps": oracle_mean.tolist(), "mc_se": oracle_se.tolist(),
                   "mc_se_over_gap": (oracle_se / np.abs(d_oracle.mean(0))).tolist(),
                   "n_paths": [int(p["n_paths"]) for p in parts],
                   "dm": _oracle_dm(np.concatenate(oracle), np.concatenate(crps[reference]))},
        "models": models,
        "mamba_fits": [p["fit_log"] for p in parts],
    }


# ----------------------------------------------------------------------------- the run

@dataclass
class OracleResult:
    config: dict
    blocks: list  # pool_block per market and pair
    seconds: float
    date: str
    machine: str
    jobs: int

    def to_dict(self) -> dict:
        return {"benchmark": "oracle (issue 19)", "date": self.date, "machine": self.machine, "jobs": self.jobs,
                "seconds": round(self.seconds, 1), "config": self.config, "blocks": self.blocks}


def _config_dict(config: OracleConfig) -> dict:
    return {"markets": list(config.markets), "seeds": config.seed_list, "days": config.days,
            "test_years": config.test_years, "horizon": config.horizon, "pooled": config.pooled,
            "retrain_every": 0, "bootstrap": {"resamples": BOOTSTRAPS, "interval": INTERVAL, "over": "seeds"},
            "mambas": {name: _variant_dict(v) for name, v in config.mambas().items()},
            **({"global": config.cross_pair.to_dict()} if config.pooled else {})}


def _variant_dict(v: Variant) -> dict:
    if isinstance(v, AnchoredConfig):
        return {"design": ANCHORED, "config": v.to_dict()}
    return {"design": WINDOWED, "data": v[0].to_dict(), "model": v[1].to_dict(), "train": v[2].to_dict()}


def machine() -> str:
    import torch

    return f"{platform.node()} ({platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__})"


def run_oracle(config: OracleConfig = FULL, jobs: int = 1, out: Optional[str] = None,
               log: Optional[Callable[[str], None]] = None) -> OracleResult:
    """Every market x seed task (in `jobs` processes), pooled per market and pair; JSON to `out`."""
    if not isinstance(jobs, int) or jobs < 1:
        raise ForecasterError(f"jobs={jobs!r} is invalid: accepted an integer >= 1")
    say = log or (lambda text: print(text, file=sys.stderr, flush=True))
    began = time.perf_counter()
    # the heaviest (several pairs) first, so that a pool of workers ends together
    tasks = sorted(((m, s) for m in config.markets for s in config.seed_list),
                   key=lambda t: (-mk.MARKETS[t[0]].pairs, config.markets.index(t[0]), t[1]))
    results = {}

    def done(r: dict) -> None:
        results[(r["market"], r["seed"])] = r
        say(f"[{len(results)}/{len(tasks)}] {r['market']} seed {r['seed']}: {r['seconds']:.0f} s "
            f"({time.perf_counter() - began:.0f} s elapsed)")

    say(f"oracle benchmark: {len(tasks)} tasks ({len(config.markets)} markets x {config.seeds} seeds, "
        f"{config.days} days), {jobs} job{'s' if jobs > 1 else ''}")
    def pool_all(mapper) -> list:  # pool_block per market and pair, in the table's order, through mapper
        todo = [(m, pair, [results[(m, s)]["pairs"][pair] for s in config.seed_list])
                for m in config.markets for pair in results[(m, config.first_seed)]["pairs"]]
        say(f"pooling {len(todo)} blocks over the seeds ({time.perf_counter() - began:.0f} s elapsed)")
        return list(mapper(pool_block, *zip(*todo)))

    if jobs == 1:
        for m, s in tasks:
            done(run_task(m, s, config))
        blocks = pool_all(map)
    else:
        import multiprocessing

        with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            for fut in as_completed([pool.submit(run_task, m, s, config) for m, s in tasks]):
                done(fut.result())
            blocks = pool_all(pool.map)  # the mixtures' scores are the slow part
    result = OracleResult(config=_config_dict(config), blocks=blocks, seconds=time.perf_counter() - began,
                          date=time.strftime("%Y-%m-%d"), machine=machine(), jobs=jobs)
    if out:
        atomic_write_json(out, result.to_dict())
    return result


# ----------------------------------------------------------------------------- the table

def _num(x: Optional[float], fmt: str = "+.2f") -> str:
    return "–" if x is None or not math.isfinite(x) else format(x, fmt)


def _gap_cell(entry: dict, h: Optional[int]) -> str:
    if h is None:
        g, iv = entry["gap_closed_all"], entry["gap_interval_all"]
    else:
        g, iv = entry["gap_closed"][h], None if entry["gap_interval"] is None else entry["gap_interval"][h]
    return _num(g) + ("" if iv is None else f" [{_num(iv[0])}, {_num(iv[1])}]")


def _dm_cell(dm: Optional[dict], h: Optional[int]) -> str:
    if dm is None:
        return "(reference)"
    d = dm["overall"] if h is None else dm["per_step"][h]
    if d["p_better"] is None or np.isnan(d["p_better"]):  # the same forecast (w = 0: GARCH-t's own): nothing to test
        return f"{d['verdict']} (no difference)"
    one_sided = d["verdict"] in ("better", "worse")
    p = d["p_better"] if d["verdict"] == "better" else d["p_worse"] if one_sided else \
        min(1.0, 2 * min(d["p_better"], d["p_worse"]))
    return f"{d['verdict']} ({'p < 0.001' if p < 0.001 else f'p = {p:.3f}'}{'' if one_sided else ', two-sided'})"


def format_table(result: OracleResult) -> str:
    """Markdown, one table per market and pair: CRPS (x 1e4), gap closed at step 1, step H and over all
    steps (bootstrap interval over seeds), coverage 80/95 overall and per volatility tercile, DM."""
    cfg = result.config
    pct = round(100 * INTERVAL)
    lines = [f"{len(cfg['seeds'])} seed(s) {cfg['seeds']}, {cfg['days']} simulated days, test = last "
             f"{cfg['test_years']:g} years, H = {cfg['horizon']}, fitted once before the test (retrain_every 0). "
             f"Gap closed: 0 = hist_vol, 1 = oracle; pooled over seeds"
             + (f", [{pct}% bootstrap interval over the seeds]" if len(cfg["seeds"]) > 1 else " (one seed: no interval)")
             + ". CRPS x 1e4 (log-return units). Coverage: overall, and low/mid/high volatility tercile."]
    H = cfg["horizon"]
    for b in result.blocks:
        gap = b["market"] != IID
        title = b["market"] if b["market"] == b["pair"].lower() else f"{b['market']} / {b['pair']}"
        o = b["oracle"]
        lines += ["", f"**{title}** ({b['origins_per_seed']} origins x {b['seeds']} seed(s), "
                  f"{b['test_first_origin'][:10]}..{b['test_last_origin'][:10]}; oracle CRPS x 1e4 "
                  + " / ".join(f"{c * 1e4:.3f}" for c in o["crps"]) + ", MC se x 1e4 "
                  + " / ".join(f"{s * 1e4:.4f}" for s in o["mc_se"]) + f", {max(o['n_paths'])} paths)", ""]
        head = ["model", "CRPS h=1", f"CRPS h={H}"]
        if gap:
            head += ["gap h=1", f"gap h={H}", "gap all"]
        head += ["cov 80 (l/m/h)", "cov 95 (l/m/h)", f"DM vs {b['reference']} h=1", "all steps", "DM vs ewma, all steps"]
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for name, e in b["models"].items():
            row = [name, f"{e['crps'][0] * 1e4:.3f}", f"{e['crps'][-1] * 1e4:.3f}"]
            if gap:
                row += [_gap_cell(e, 0), _gap_cell(e, H - 1), _gap_cell(e, None)]
            for level in LEVELS:
                c = e["coverage"][level]
                terciles = "/".join(format(c["by_tercile"][t], ".2f") for t in ("low", "mid", "high"))
                row.append(f"{c['overall']:.3f} ({terciles})")
            row += [_dm_cell(e["dm"], 0), _dm_cell(e["dm"], None), _dm_cell(e.get("dm_ewma"), None)]
            lines.append("| " + " | ".join(row) + " |")
        lines += [f"\n{name} against {DEFAULT_MAMBA} (the single-pair model), all steps: {_dm_cell(e['dm_single'], None)}"
                  for name, e in b["models"].items() if e.get("dm_single")]
        if o.get("dm"):  # JSON written before the oracle's own test have none
            lines.append(f"\nThe oracle itself (the true distribution) against {b['reference']}: h=1 {_dm_cell(o['dm'], 0)}, "
                         f"all steps {_dm_cell(o['dm'], None)}: the most a model can show on these origins.")
    return "\n".join(lines)

