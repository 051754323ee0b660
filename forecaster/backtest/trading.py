"""A cost-aware trading simulation on forecasts, and its statistics.

Timing: the position q_t in {-1, 0, +1} is decided at bar t from the forecast made at origin t
and earns the simple return of bar t -> t+1: gross_{t+1} = q_t * (close_{t+1} / close_t - 1).
Fills are never at the mid that produced the signal: a change of position crosses half the
quoted spread (buy at the ask, sell at the bid) plus slippage, and pays commission:

    cost_t = |q_t - q_{t-1}| * (spread_pips * pip / 2 / close_t + (slippage_bp + commission_bp) / 1e4)

so a round trip (flat -> long -> flat) pays one full spread. Turnover counts round trips,
sum |q_t - q_{t-1}| / 2, hence spread cost = spread x turnover. The book starts flat and is not
forced flat at the end. Overnight swap (rollover interest) is NOT modelled.

Volatility targeting (optional, beside unit size): q_t = sign(signal_t) * min(cap, target / vol_t),
vol_t = sigma_t * sqrt(bars per year) the annualised one-step volatility forecast at origin t (the
model's own predictive standard deviation, or an EWMA of past returns for a point forecast), so the
book's ex-ante volatility is `target` where the cap does not bind. Resizing a held position pays
costs on the size change like any other trade; a trade is a run of positions of one sign.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from forecaster.configs import CostConfig
from forecaster.errors import ForecasterError

SWAP_NOTE = "overnight swap (rollover interest) is not modelled"
ONE_SIGMA = 0.8413447460685429  # the standard normal CDF at 1: (q(ONE_SIGMA) - q(1 - ONE_SIGMA)) / 2 = sigma


def signals(forecast_return: np.ndarray, threshold: float = 0.0) -> np.ndarray:
    """Forecast log returns (N,) -> positions (N,): +1 above threshold, -1 below -threshold, else flat."""
    f = np.asarray(forecast_return, dtype=np.float64)
    return np.where(f > threshold, 1.0, np.where(f < -threshold, -1.0, 0.0))


def predictive_sigma(dist) -> np.ndarray:
    """(N, H) standard deviation of a forecast distribution (forecaster.probabilistic.distributions): the exact one
    of a Gaussian or Student-t with df > 2, otherwise half the central 68.27% interval (the standard
    deviation of a Gaussian; finite for any form)."""
    if hasattr(dist, "std"):
        sd = dist.std()
        if np.all(np.isfinite(sd)):
            return sd
    q = dist.quantile([1.0 - ONE_SIGMA, ONE_SIGMA])  # (N, H, 2)
    return (q[..., 1] - q[..., 0]) / 2.0


def vol_target_positions(signal: np.ndarray, sigma: np.ndarray, target: float, per_year: float,
                         cap: float = 2.0) -> np.ndarray:
    """Positions (N,) = sign(signal) * min(cap, target / (sigma * sqrt(per_year))).

    signal (N,) any sizes (only the sign is used); sigma (N,) the one-bar volatility forecast known at
    each origin (log-return units); target the annualised volatility (0.10 = 10%). A missing or zero
    sigma gives the cap."""
    signal, sigma = np.asarray(signal, dtype=np.float64), np.asarray(sigma, dtype=np.float64)
    if signal.shape != sigma.shape:
        raise ForecasterError(f"signals {signal.shape} and volatility forecasts {sigma.shape} must have the same shape")
    if not target > 0 or not cap > 0 or not per_year > 0:
        raise ForecasterError(f"target={target!r}, cap={cap!r}, per_year={per_year!r}: accepted numbers > 0")
    annual = sigma * math.sqrt(per_year)
    with np.errstate(divide="ignore", invalid="ignore"):
        size = np.where(np.isfinite(annual) & (annual > 0), np.minimum(cap, target / annual), cap)
    return np.sign(signal) * size


@dataclass
class Simulation:
    positions: np.ndarray  # (N,) q_t decided at bar t
    gross: np.ndarray  # (N,) return earned over t -> t+1 before costs
    costs: np.ndarray  # (N,) costs charged at bar t (in return units)
    net: np.ndarray  # (N,) gross - costs
    equity: np.ndarray  # (N,) equity after bar t+1, starting from 1


def simulate(positions: np.ndarray, close: np.ndarray, costs: CostConfig) -> Simulation:
    """positions (N,) decided at bars 0..N-1; close (N+1,): closes at bars 0..N."""
    q = np.asarray(positions, dtype=np.float64)
    close = np.asarray(close, dtype=np.float64)
    if len(close) != len(q) + 1:
        raise ForecasterError(f"simulate needs one more close ({len(close)}) than positions ({len(q)})")
    bar_return = close[1:] / close[:-1] - 1.0  # (N,) t -> t+1
    change = np.abs(np.diff(q, prepend=0.0))  # starts flat
    per_unit = costs.spread_pips * costs.pip / 2.0 / close[:-1] + (costs.slippage_bp + costs.commission_bp) / 1e4
    gross = q * bar_return
    cost = change * per_unit
    net = gross - cost
    return Simulation(positions=q, gross=gross, costs=cost, net=net, equity=np.cumprod(1.0 + net))


def drawdown(equity: np.ndarray) -> tuple[np.ndarray, float, int]:
    """(drawdown series <= 0, maximum drawdown as a negative fraction, longest run of bars under water).

    The peak includes the starting equity of 1."""
    eq = np.concatenate([[1.0], np.asarray(equity, dtype=np.float64)])
    peak = np.maximum.accumulate(eq)
    dd = eq / peak - 1.0
    longest, run = 0, 0
    for under in dd[1:] < 0:
        run = run + 1 if under else 0
        longest = max(longest, run)
    return dd[1:], float(dd.min()), longest


def _trades(sim: Simulation) -> list[float]:
    """Net return of each trade: a run of non-zero positions of one sign (resizing stays in the trade),
    with the cost of entering it."""
    out, current, pos = [], None, 0.0
    for q, net in zip(sim.positions, sim.net):
        if np.sign(q) != pos:
            if current is not None:
                out.append(current)
            current = None if q == 0 else 0.0
            pos = np.sign(q)
        if current is not None:
            current = (1 + current) * (1 + net) - 1
    if current is not None:
        out.append(current)
    return out


def risk_sizing_stats(sim: Simulation, per_year: float, target: float, regime: np.ndarray) -> dict:
    """How well a volatility forecast sized a position: trading_stats, the realised annualised
    volatility against the target, and the realised volatility within each tercile of the volatility
    known at the origin (a forecast that tracks volatility keeps them all near the target; one that
    lags it runs hot in storms and cold in calm). regime (N,) as scores.trailing_volatility."""
    from forecaster.evaluation.scores import TERCILES, tercile_edges

    out = trading_stats(sim, per_year)
    a, b = tercile_edges(regime)
    finite = np.isfinite(regime)
    by = {}
    for name, lo, hi in zip(TERCILES, (-np.inf, a, b), (a, b, np.inf)):
        sel = finite & (regime > lo) & (regime <= hi)
        by[name] = float(np.std(sim.net[sel], ddof=1) * math.sqrt(per_year)) if sel.sum() > 1 else math.nan
    return {**out, "target": target, "realised_vs_target": out["volatility"] / target, "volatility_by_tercile": by}


def trading_stats(sim: Simulation, per_year: float) -> dict:
    """Total return, CAGR, volatility, Sharpe, Sortino, Calmar, drawdown, trades, costs."""
    net, n = sim.net, len(sim.net)
    total = float(sim.equity[-1] - 1.0) if n else 0.0
    years = n / per_year
    cagr = float(sim.equity[-1] ** (1 / years) - 1) if n and sim.equity[-1] > 0 else -1.0
    std = float(np.std(net, ddof=1)) if n > 1 else math.nan
    downside = float(np.sqrt(np.mean(np.minimum(net, 0.0) ** 2))) if n else math.nan
    mean = float(np.mean(net)) if n else math.nan
    _, max_dd, dd_bars = drawdown(sim.equity)
    trades = _trades(sim)
    wins = [t for t in trades if t > 0]
    losses = [t for t in trades if t < 0]
    return {
        "total_return": total,
        "cagr": cagr,
        "volatility": std * math.sqrt(per_year),
        "sharpe": mean / std * math.sqrt(per_year) if std > 0 else math.nan,
        "sortino": mean / downside * math.sqrt(per_year) if downside > 0 else math.nan,
        "calmar": cagr / abs(max_dd) if max_dd < 0 else math.nan,
        "max_drawdown": max_dd,
        "max_drawdown_bars": dd_bars,
        "trades": len(trades),
        "win_rate": len(wins) / len(trades) if trades else math.nan,
        "profit_factor": float(sum(wins) / abs(sum(losses))) if losses else math.nan,
        "expectancy": float(np.mean(trades)) if trades else math.nan,
        "exposure": float(np.mean(sim.positions != 0)) if n else math.nan,
        "turnover": float(np.abs(np.diff(sim.positions, prepend=0.0)).sum() / 2),
        "costs_paid": float(sim.costs.sum()),
        "bars": n,
    }
